"""The teach room: what the notebooks use to show and explain (set-up, printing, exercises, pictures, widgets).

It may use the model and the training rooms; nothing outside it imports it but the package's front door
(``convnext_lesson/__init__.py``). Its modules are imported one by one: the widgets need ipywidgets.
"""
