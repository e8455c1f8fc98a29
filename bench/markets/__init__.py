"""An independent market family with known truth, to check ``bundlewise bundles`` from the outside.

Written without reading or importing the pricing code (``bundlewise.bundles``): its shoppers, valuations
and choice rule are its own, so a shared mistake cannot hide. ``generator`` builds markets and their order
history, ``truth`` scores any bundle portfolio under the hidden model, ``run`` drives the real CLI.
"""
