// A local, dependency-free reader of /openapi.json: every operation, its parameters, body and examples.
"use strict";

function text(tag, value, cls) {
  const node = document.createElement(tag);
  node.textContent = value;
  if (cls) node.className = cls;
  return node;
}

function resolve(spec, schema) {
  if (schema && schema.$ref) return resolve(spec, spec.components.schemas[schema.$ref.split("/").pop()]);
  return schema || {};
}

function example(spec, schema) {
  const s = resolve(spec, schema);
  if (s.examples && s.examples.length) return s.examples[0];
  return null;
}

fetch("/openapi.json").then((r) => r.json()).then((spec) => {
  const main = document.getElementById("docs");
  main.appendChild(text("p", spec.info.description || ""));
  for (const [path, ops] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const box = document.createElement("div");
      box.className = "op";
      box.appendChild(text("code", method.toUpperCase() + " " + path));
      box.appendChild(text("span", " — " + (op.summary || "")));
      for (const p of op.parameters || []) {
        box.appendChild(text("div", p.in + " " + p.name + (p.required ? " (required)" : "") + ": " +
          JSON.stringify(resolve(spec, p.schema)), "hint"));
      }
      const body = op.requestBody && op.requestBody.content["application/json"];
      if (body) {
        const ex = example(spec, body.schema);
        box.appendChild(text("div", "body: " + (resolve(spec, body.schema).title || "JSON"), "hint"));
        if (ex) box.appendChild(text("pre", JSON.stringify(ex, null, 1)));
      }
      const ok = op.responses && (op.responses["200"] || op.responses["201"]);
      const okBody = ok && ok.content && ok.content["application/json"];
      const ex = okBody && example(spec, okBody.schema);
      if (ex) box.appendChild(text("pre", JSON.stringify(ex, null, 1)));
      main.appendChild(box);
    }
  }
});
