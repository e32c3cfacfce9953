"""The separate feature window is built without napari's repeated work, and ends up as napari would build it."""

from __future__ import annotations


def test_the_feature_window_opens_without_re_announcing_every_shortcut(make_viewer, dock, run_and_wait):
    """Each new napari viewer unbinds and binds every shortcut again; every open viewer answered the ~180 events."""
    from napari.utils.action_manager import action_manager
    from vispy.util import config
    from vispy.util.dpi import get_dpi

    from napari_colorquant._napari import warmup

    viewer = make_viewer()
    viewer.open_sample("napari-colorquant", "photo")
    widget = dock(viewer)
    widget.n_clusters.value, widget.feature_view.value = 3, "separate window"
    warmup.start().join(120)
    shortcuts = {name: list(bound) for name, bound in action_manager._shortcuts.items()}
    announced = []
    action_manager.events.shortcut_changed.connect(announced.append)
    try:
        run_and_wait(widget)
        window = widget.feature_viewer
        assert window is not None and "china feature space" in window.layers
    finally:
        action_manager.events.shortcut_changed.disconnect(announced.append)
    try:
        assert announced == []  # nothing changed: nothing announced
        assert {name: list(bound) for name, bound in action_manager._shortcuts.items()} == shortcuts
        buttons, main = window.window._qt_viewer.viewerButtons, viewer.window._qt_viewer.viewerButtons
        for name in ("ndisplayButton", "rollDimsButton", "transposeDimsButton", "resetViewButton"):
            assert getattr(buttons, name).toolTip() == getattr(main, name).toolTip()  # the shortcuts they name
        assert window.window._qt_viewer.canvas._scene_canvas.dpi == get_dpi(raise_error=False)
        assert config["dpi"] is None  # vispy's setting is back: other canvases ask for the DPI as before
    finally:
        widget.close_feature_viewer()


def test_a_shortcut_changed_while_the_window_is_built_is_announced_once():
    from napari.utils.action_manager import action_manager

    from napari_colorquant._napari.second_viewer import opening_viewer

    name = next(name for name in action_manager._actions if name not in action_manager._shortcuts)
    announced = []
    action_manager.events.shortcut_changed.connect(announced.append)
    try:
        with opening_viewer():
            action_manager.bind_shortcut(name, "Ctrl-Alt-Shift-F12")
            assert announced == []
        assert [event.name for event in announced] == [name]
        assert announced[0].tooltip == action_manager._build_tooltip(name)  # naming the new shortcut
    finally:
        action_manager.events.shortcut_changed.disconnect(announced.append)
        action_manager.unbind_shortcut(name)


def test_the_feature_window_is_built_styled_shown_and_drawn_in_turns_of_their_own(make_viewer, dock, run_and_wait,
                                                                                  monkeypatch):  # fmt: skip
    """Building a napari viewer, styling it, showing it, making its texts' glyphs, inserting the feature-space points,
    their first paint and the axes' were stretches of the GUI thread two or three at a time (the first run's longest
    freezes)."""
    from napari._qt.qt_main_window import Window
    from napari._vispy.utils.qt_font import QtTextureFont
    from napari.layers import Layer

    from napari_colorquant._napari import placer as placer_module
    from napari_colorquant._napari import steps
    from napari_colorquant._napari.feature_axes import FeatureRun
    from napari_colorquant._napari.placer import Placer

    turns, seen, glyphs = [0], {}, {}
    run_next, open_window, show_window = (
        steps.StepQueue._run_next,
        placer_module._build_window,
        Placer._show_feature_viewer,
    )
    update_theme, load_char, create = Window._update_theme, QtTextureFont._load_char, Layer.create
    add_dock, make_layers = Window.add_dock_widget, FeatureRun.layers

    def counted(queue):
        turns[0] += 1
        return run_next(queue)

    def opened(placer):
        built = open_window(placer)
        window = built[0]  # (window, what is left to do in later turns, its pickers)
        seen["built"] = (turns[0], window.window._qt_window.isVisible())
        exposed = window.window._qt_window.windowHandle  # None until shown
        window.dims.events.ndim.connect(lambda event: seen.setdefault(f"{event.value} dimensions", turns[0]))
        window.dims.events.ndisplay.connect(lambda event: seen.setdefault(f"{event.value}-D", turns[0]))
        window.dims.events.ndisplay.connect(lambda _: seen.setdefault("exposed at 3-D", exposed().isExposed()))
        window.layers.events.inserted.connect(lambda event: seen.setdefault("points inserted", turns[0]))
        window.layers.events.inserted.connect(
            lambda event: event.value.events.visible.connect(lambda _: seen.setdefault("points shown", turns[0]))
        )
        window.axes.events.visible.connect(lambda _: seen.setdefault("axes shown", turns[0]))
        window.axes.events.labels.connect(lambda named: named and seen.setdefault("axes named", turns[0]))
        return built

    def shown(placer, window):
        show_window(placer, window)
        seen["shown"] = (turns[0], window.window._qt_window.isVisible(), window.window._qt_window.styleSheet() != "")

    def styled(window, *args, **kwargs):
        seen.setdefault("styled", turns[0])
        return update_theme(window, *args, **kwargs)

    def loaded(font, character):
        glyphs.setdefault(character, turns[0])
        return load_char(font, character)

    def docked(window, widget, *args, **kwargs):
        seen.setdefault("docked", turns[0]) if kwargs.get("name") == "feature axes" else None
        return add_dock(window, widget, *args, **kwargs)

    def layers_made(run, *args, **kwargs):
        seen.setdefault("layers made", turns[0])
        return make_layers(run, *args, **kwargs)

    def created(*args, **kwargs):
        layer = create(*args, **kwargs)
        seen.setdefault("points created", turns[0]) if args[2] == "points" else None
        return layer

    monkeypatch.setattr(steps.StepQueue, "_run_next", counted)
    monkeypatch.setattr(placer_module, "_build_window", opened)
    monkeypatch.setattr(Placer, "_show_feature_viewer", shown)
    viewer = make_viewer()
    viewer.open_sample("napari-colorquant", "photo")
    widget = dock(viewer)
    widget.n_clusters.value, widget.feature_view.value = 3, "separate window"
    monkeypatch.setattr(Window, "_update_theme", styled)  # the window's, not the user's viewer's
    monkeypatch.setattr(QtTextureFont, "_load_char", loaded)
    monkeypatch.setattr(Layer, "create", created)
    monkeypatch.setattr(Window, "add_dock_widget", docked)
    monkeypatch.setattr(FeatureRun, "layers", layers_made)
    run_and_wait(widget)
    try:
        assert seen["built"][1] is False and seen["shown"][1:] == (True, True)  # shown once styled
        built, styled_turn, shown_turn = seen["built"][0], seen["styled"], seen["shown"][0]
        assert built < styled_turn < shown_turn < seen["points inserted"] < seen["points shown"] < seen["axes shown"]
        assert seen["layers made"] < built < seen["docked"] < shown_turn  # the window's data, napari's window, docking
        assert seen["axes shown"] < seen["axes named"]  # the arrows' first paint, then their names' (shaders each)
        # The window on the screen (its first paint, Qt's own work) before the next step: then 3-D, and room for a
        # third dimension before the points come (napari rebuilt every slider when the first 3-D layer came).
        assert seen["exposed at 3-D"] is True and shown_turn < seen["3-D"]
        assert seen["3-D"] <= seen["3 dimensions"] < seen["points created"]
        assert seen["points created"] < seen["points inserted"]  # the layer made a turn before its insertion
        window, picker = widget.feature_viewer, widget.placer.axis_picker
        # Every glyph the points' labels and the axis names need is made before the points are drawn, after the
        # window is shown, and in more than one turn.
        needed = set("ÅÉÑŐjgpqy ") | set("".join(window.dims.axis_labels))
        assert needed <= glyphs.keys(), needed - glyphs.keys()
        made = {glyphs[character] for character in needed}
        assert shown_turn < min(made) and max(made) < seen["points inserted"] and len(made) > 1
        assert "china feature space" in window.layers and window.dims.ndisplay == 3 and window.axes.visible
        assert picker is not None and "feature axes" in window.window._dock_widgets
    finally:
        widget.close_feature_viewer()


def test_the_theme_method_keeps_its_name_while_a_window_is_built():
    """napari connects the window's theme method by name: under the stand-in's name it went through every
    attribute of the new window, read napari's deprecated ``_dock_widgets`` and printed a FutureWarning in the
    user's terminal. (Checked on the name: a second viewer closed in a test breaks the GL drawing of the next
    test's viewer, a napari / vispy problem of its own.)"""
    from napari._qt.qt_main_window import Window

    from napari_colorquant._napari.second_viewer import opening_viewer

    with opening_viewer():
        assert Window._update_theme.__name__ == "_update_theme"
