"""What a notebook shows: pictures, tables and widgets drawn from the code and the records.

``lesson`` (what a step changes, its counts beside the paper's, our runs so far), ``diagrams`` (a step's
stages and block), ``block_picture`` (three blocks side by side), ``roadmap_figure`` (the paper's Figure 2 with
our runs), ``layer_costs`` and ``receptive_field`` (where compute goes, what a kernel sees), ``recipe_demo`` and
``stem_demo`` (notebooks 02 and 03), ``speed_table`` (notebook 09) and ``explorer`` (the widgets).
"""
