"""The output layer every classifier or regressor ends with, sized from the `DataSpec`."""


def output_layer(spec, name="output"):
    """Dense(K, softmax) for K classes, Dense(1, sigmoid) for binary labels, and a linear
    Dense(T) for T regression targets; always float32, so that under mixed precision the
    probabilities and the loss keep their accuracy."""
    from keras import layers

    if spec.task == "classification":
        return layers.Dense(spec.num_outputs, activation="softmax", name=name, dtype="float32")
    if spec.task == "binary":
        return layers.Dense(1, activation="sigmoid", name=name, dtype="float32")
    return layers.Dense(spec.num_outputs, name=name, dtype="float32")
