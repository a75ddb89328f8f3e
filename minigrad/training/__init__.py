"""What trains a model, on the engine alone (nothing here imports minigrad.nn):

    losses.py        mse, binary/categorical/sparse cross-entropy, kl terms (Keras order)
    optim.py         SGD, RMSprop, Adam (Keras' update rules), per-parameter state
    regularizers.py  l1, l2, l1_l2 weight penalties
    callbacks.py     Callback, History, EarlyStopping, ModelCheckpoint, CSVLogger, ...
    progress.py      the progress bar of fit() and evaluate()
    files.py         atomic_write: every file minigrad writes appears whole or not at all
"""
