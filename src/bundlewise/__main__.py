"""``python -m bundlewise``: the ``bundlewise`` command."""

from bundlewise.cli.entry import main

if __name__ == "__main__":
    main()
