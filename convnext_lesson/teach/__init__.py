"""The teach room: what the notebooks use, grouped by what a notebook does with it.

- set-up, here: ``notebook`` (the first cell: device, profile), ``doctor`` (what this machine lacks) and
  ``colab`` (Google Drive for runs and data);
- ``show/``: pictures, tables and widgets drawn from the code and the records;
- ``lab/``: what the learner does: exercises and their solutions, blocks written by hand, fine-tuning;
- ``readings/``: what our runs say: step effects against the noise, the follow-ups' rules and readings.

It may use the model and the training rooms; nothing outside it imports it but the package's front door
(``convnext_lesson/__init__.py``). Its modules are imported one by one: the widgets need ipywidgets.
"""
