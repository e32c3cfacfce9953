"""The napari floor: dock widgets, layer builders, writers, sample data and the viewer launcher.

Only this subpackage imports napari, Qt or magicgui; the core modules one level up never do.
"""
