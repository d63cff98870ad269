"""Graders and worked solutions of the notebooks' exercises, one module per notebook."""
