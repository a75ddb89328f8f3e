"""Tools for the lessons and for checking gradients, beside the layers (they import from
every layer; only minigrad/__init__.py imports them):

    gradcheck.py   gradcheck / gradgradcheck: float64 central differences, clear reports
    testing.py     hypothesis strategies and assertions for your own ops and models
    data.py        MNIST and the lessons' data sets, a seeded batch iterator
    plot.py        matplotlib figures, draw_graph, draw_model
    sampling.py    softmax-temperature sampling for the text lessons
"""
