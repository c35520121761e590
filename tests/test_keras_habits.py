"""Keras and PyTorch habits on ``Sequential``: each checked against an independent oracle.

``predict`` against ``forward``; ``learning_rate=`` against ``lr=``; a deferred ``Dense`` against
one given its ``n_in``; callbacks against fits of fewer epochs and against ``early_stopping=``;
``class_weight`` against the equivalent ``sample_weight``; the training metric against
``predict`` at the end of each epoch; ``numerical_gradients``' default step against
backpropagation; the message for text labels.
"""

import os
import pickle

import numpy as np
import pytest
from sklearn.metrics import r2_score

import fastbp
from fastbp.model import default_difference_step

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


def blobs(n=90, d=5, k=3, seed=0):
    """``k`` Gaussian blobs in ``d`` dimensions, integer labels."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((k, d)) * 2
    y = rng.integers(0, k, n)
    return centres[y] + rng.standard_normal((n, d)), y


def classifier(first=None, seed=0, dtype="float64"):
    """5 -> 8 tanh -> 3 softmax; ``first`` replaces the first layer (a deferred one, say)."""
    first = fastbp.Dense(5, 8, "tanh") if first is None else first
    return fastbp.Sequential([first, fastbp.Dense(8, 3, "softmax")], loss="cross_entropy",
                             dtype=dtype, seed=seed)


def regressor(seed=0):
    return fastbp.Sequential([fastbp.Dense(3, 6, "tanh"), fastbp.Dense(6, 2)], dtype="float64",
                             seed=seed)


def regression_data(n=60, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3))
    return X, np.column_stack([X[:, 0] - X[:, 1], np.sin(X[:, 2])]) + 0.1 * rng.standard_normal(
        (n, 2))


def fitted(model, X, y, **kwargs):
    """``model`` after ``fit``, with its history."""
    kwargs = {"epochs": 4, "batch_size": 16, "seed": 3, **kwargs}
    return model, model.fit(X, y, **kwargs)


# ---- 1. predict ---------------------------------------------------------------------------------

def test_predict_is_forward_for_softmax_sigmoid_and_regression_outputs():
    X, y = blobs()
    softmax = classifier()
    sigmoid = fastbp.Sequential([fastbp.Dense(5, 4, "relu"), fastbp.Dense(4, 1, "sigmoid")],
                                loss="binary_cross_entropy", seed=0)
    for model in (softmax, sigmoid, regressor()):
        data = X[:, :model.n_inputs]
        np.testing.assert_array_equal(model.predict(data), model.forward(data))
    # the probabilities, as Keras gives them: rows of the softmax sum to 1
    np.testing.assert_allclose(softmax.predict(X).sum(axis=1), 1, rtol=1e-12)
    assert np.all((sigmoid.predict(X) > 0) & (sigmoid.predict(X) < 1))


# ---- 2. learning_rate= beside lr= ---------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda **rate: fastbp.Adam(**rate, beta_1=0.8),
    lambda **rate: fastbp.SGD(**rate, momentum=0.9, nesterov=True),
], ids=["adam", "sgd"])
def test_learning_rate_trains_bitwise_like_lr(make):
    X, y = blobs()
    by_lr, history_lr = fitted(classifier(), X, y, optimizer=make(lr=0.03))
    by_name, history_name = fitted(classifier(), X, y, optimizer=make(learning_rate=0.03))
    np.testing.assert_array_equal(by_name.parameters, by_lr.parameters)
    assert history_name.loss == history_lr.loss


def test_learning_rate_is_an_alias_of_lr_both_ways():
    adam = fastbp.Adam(learning_rate=0.02)
    assert adam.lr == adam.learning_rate == 0.02
    adam.learning_rate = 0.5
    assert adam.lr == 0.5
    adam.lr = 0.25  # what the fit loops and the model files do
    assert adam.learning_rate == 0.25
    assert fastbp.SGD().learning_rate == 0.01 and fastbp.Adam().learning_rate == 0.001


def test_learning_rate_and_lr_together_or_neither_is_a_type_error():
    with pytest.raises(TypeError, match="pass lr or learning_rate.*not both; got lr=0.1 and "
                                        "learning_rate=0.2"):
        fastbp.SGD(0.1, learning_rate=0.2)
    with pytest.raises(TypeError, match="pass lr or learning_rate"):
        fastbp.Adam(lr=0.1, learning_rate=0.1)
    with pytest.raises(TypeError, match=r"missing the learning rate: pass lr= \(or "
                                        r"learning_rate=\)"):
        fastbp.training.optimizers.Optimizer()  # the base class has no default rate
    with pytest.raises(ValueError, match="learning_rate must be a finite positive number; got -1"):
        fastbp.Adam(learning_rate=-1)
    with pytest.raises(TypeError, match="learning_rate must be a positive real number"):
        fastbp.SGD(learning_rate="0.1")
    with pytest.raises(ValueError, match="learning_rate must be a finite positive number"):
        fastbp.SGD().learning_rate = 0.0


def test_an_optimizer_made_with_learning_rate_saves_and_loads(tmp_path):
    X, y = blobs()
    model, _ = fitted(classifier(), X, y, optimizer=(adam := fastbp.Adam(learning_rate=0.02)))
    model.save(tmp_path / "m.safetensors", optimizer=adam)
    _, loaded = fastbp.load(tmp_path / "m.safetensors", return_optimizer=True)
    assert loaded.lr == loaded.learning_rate == 0.02 and loaded.steps == adam.steps


# ---- 3. Dense without n_in ----------------------------------------------------------------------

def test_the_positional_rule_one_width_is_n_out_two_are_n_in_n_out():
    assert repr(fastbp.Dense(8)) == "Dense(8, activation='identity')"
    deferred = fastbp.Dense(8, activation="relu")
    assert (deferred.n_out, deferred.activation) == (8, "relu")
    assert not hasattr(deferred, "n_in")  # NotBuiltError is an AttributeError too
    explicit = fastbp.Dense(4, 8, "relu")
    assert (explicit.n_in, explicit.n_out, explicit.activation) == (4, 8, "relu")
    keywords = fastbp.Dense(n_in=4, n_out=8, activation="relu", dropout=0.1)
    assert (keywords.n_in, keywords.n_out, keywords.dropout) == (4, 8, 0.1)
    assert fastbp.Dense(n_out=3).n_out == 3
    one_width = fastbp.Dense(8, n_in=4)  # one positional width is n_out, whatever else is given
    assert (one_width.n_in, one_width.n_out) == (4, 8)
    assert fastbp.Dense(4, 8, "tanh", "he_uniform", 0.2).init == "he_uniform"  # all positional


def test_ambiguous_or_incomplete_widths_are_refused_with_the_rule():
    with pytest.raises(TypeError, match=r"Dense\(8, 'relu'\) reads as n_in=8, n_out='relu'; "
                                        r"for 8 units of 'relu' write Dense\(8, "
                                        r"activation='relu'\)"):
        fastbp.Dense(8, "relu")
    with pytest.raises(TypeError, match="missing a required argument: 'n_out'"):
        fastbp.Dense(n_in=3)
    with pytest.raises(TypeError, match="missing a required argument: 'n_out'"):
        fastbp.Dense()
    with pytest.raises(TypeError, match="n_in must be a positive integer; got None"):
        fastbp.Dense(None, 2)  # leaving it out defers it; None is refused as before


def test_a_deferred_first_layer_trains_bitwise_like_one_given_n_in():
    X, y = blobs()
    explicit, history = fitted(classifier(), X, y, validation_split=0.2)
    deferred_model = classifier(first=fastbp.Dense(8, activation="tanh"))
    assert not deferred_model.built
    deferred, deferred_history = fitted(deferred_model, X, y, validation_split=0.2)
    assert deferred.built and deferred.n_inputs == deferred.layers[0].n_in == 5
    np.testing.assert_array_equal(deferred.parameters, explicit.parameters)
    assert deferred_history.loss == history.loss
    assert deferred_history.val_loss == history.val_loss


def test_later_layers_take_the_previous_width_when_the_model_is_made():
    model = fastbp.Sequential([fastbp.Dense(5, 8, "tanh"), fastbp.Dense(6, activation="relu"),
                               fastbp.Dense(3, activation="softmax")], loss="cross_entropy",
                              seed=0)
    assert model.built and [layer.n_in for layer in model.layers] == [5, 8, 6]
    same = fastbp.Sequential([fastbp.Dense(5, 8, "tanh"), fastbp.Dense(8, 6, "relu"),
                              fastbp.Dense(6, 3, "softmax")], loss="cross_entropy", seed=0)
    np.testing.assert_array_equal(model.parameters, same.parameters)


@pytest.mark.parametrize("use", [
    lambda model: model.parameters,
    lambda model: model.n_params,
    lambda model: model.n_inputs,
    lambda model: model.network,
    lambda model: model.summary(),
    lambda model: model.set_parameters(np.zeros(3)),
], ids=["parameters", "n_params", "n_inputs", "network", "summary", "set_parameters"])
def test_an_unbuilt_model_says_so(use):
    model = classifier(first=fastbp.Dense(8, activation="tanh"))
    with pytest.raises(fastbp.NotBuiltError, match="this Sequential is not built yet.*Call fit "
                                                   r".*or build\(n_inputs\), or give the first "
                                                   r"layer its width"):
        use(model)
    assert issubclass(fastbp.NotBuiltError, ValueError)


def test_saving_an_unbuilt_model_is_a_clear_error(tmp_path):
    model = classifier(first=fastbp.Dense(8, activation="tanh"))
    with pytest.raises(fastbp.NotBuiltError, match="not built yet"):
        model.save(tmp_path / "m.safetensors")
    with pytest.raises(fastbp.NotBuiltError, match="does not know its input width yet"):
        fastbp.save(model, tmp_path / "m.safetensors")
    assert not os.listdir(tmp_path)


def test_forward_and_build_build_it_as_fit_would():
    X, _ = blobs()
    reference = classifier()
    by_forward = classifier(first=fastbp.Dense(8, activation="tanh"))
    np.testing.assert_array_equal(by_forward.forward(X), reference.forward(X))
    by_build = classifier(first=fastbp.Dense(8, activation="tanh"))
    by_build.build((None, 5))  # a Keras input shape
    np.testing.assert_array_equal(by_build.parameters, reference.parameters)
    by_build.build(5)  # again, for the same width: nothing changes
    with pytest.raises(ValueError, match="built for 5 inputs; got 4"):
        by_build.build(4)
    with pytest.raises(ValueError, match="X has 4 features, but the model's first layer expects 5"):
        by_forward.forward(X[:, :4])


def test_a_refused_fit_leaves_the_model_unbuilt():
    X, y = blobs()
    model = classifier(first=fastbp.Dense(8, activation="tanh"))
    with pytest.raises(ValueError, match="class labels must lie in"):
        model.fit(X, y + 5)
    with pytest.raises(ValueError, match="class_weight has the key 7"):
        model.fit(X, y, class_weight={7: 1.0})
    assert not model.built
    model.fit(X[:, :3], y)  # still free to take another width
    assert model.n_inputs == 3


def test_an_unbuilt_model_pickles_and_a_deferred_layer_serves_one_model():
    X, y = blobs()
    layer = fastbp.Dense(8, activation="tanh")
    model = classifier(first=layer)
    copy = pickle.loads(pickle.dumps(model))
    fitted(model, X, y)
    fitted(copy, X, y)
    np.testing.assert_array_equal(copy.parameters, model.parameters)
    unbuilt_layer = fastbp.Dense(8, activation="tanh")
    classifier(first=unbuilt_layer)
    with pytest.raises(ValueError, match="already belongs to a model"):
        classifier(first=unbuilt_layer)


def test_layers_and_models_pickled_before_deferral_load():
    """A pickle's state is the instance dict of its time, which held a plain ``n_in``."""
    X, y = blobs()
    model = classifier()
    for layer in model.layers:  # what the older Dense.__init__ left in the instance dict
        layer.__dict__["n_in"] = layer.__dict__.pop("_n_in")
        del layer.__dict__["_claimed"]
    del model.__dict__["stop_training"], model.__dict__["_seed"]
    loaded = pickle.loads(pickle.dumps(model))
    assert [layer.n_in for layer in loaded.layers] == [5, 8]
    reference = classifier()
    np.testing.assert_array_equal(loaded.predict(X), reference.predict(X))
    np.testing.assert_array_equal(fitted(loaded, X, y)[0].parameters,
                                  fitted(reference, X, y)[0].parameters)
    with pytest.raises(ValueError, match="already belongs to a model"):
        fastbp.Sequential([loaded.layers[0]])


# ---- 4a. callbacks ------------------------------------------------------------------------------

class Recorder(fastbp.Callback):
    """Records every call; asks to stop after ``stop_after`` epochs, by return value or by
    ``model.stop_training``."""

    def __init__(self, stop_after=None, keras_way=False):
        self.stop_after, self.keras_way = stop_after, keras_way
        self.calls, self.epoch_logs, self.weights = [], [], []

    def on_train_begin(self, logs=None):
        self.calls.append(("begin", dict(logs), dict(self.params)))

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(("epoch", epoch))
        self.epoch_logs.append(logs)
        self.weights.append(np.array(self.model.parameters))
        done = self.stop_after is not None and epoch + 1 >= self.stop_after
        if self.keras_way:
            self.model.stop_training = done
            return None
        return done

    def on_train_end(self, logs=None):
        self.calls.append(("end", dict(logs)))


@pytest.mark.parametrize("keras_way", [False, True], ids=["returns-true", "stop_training"])
def test_a_callback_stopping_after_epoch_3_leaves_a_3_epoch_fit(keras_way):
    X, y = blobs()
    three, three_history = fitted(classifier(), X, y, epochs=3, validation_split=0.2)
    recorder = Recorder(stop_after=3, keras_way=keras_way)
    model, history = fitted(classifier(), X, y, epochs=10, validation_split=0.2,
                            callbacks=[recorder])
    assert len(history.loss) == 3 and history.stopped_early
    np.testing.assert_array_equal(model.parameters, three.parameters)
    assert history.history == {**three_history.history, "time": history.time}
    assert model.samples_seen == three.samples_seen


def test_callbacks_are_called_once_per_epoch_with_the_history_figures():
    X, y = blobs()
    recorder = Recorder()
    model, history = fitted(classifier(), X, y, epochs=4, validation_split=0.2,
                            metrics=["accuracy"], callbacks=[recorder])
    assert [call[0] for call in recorder.calls] == ["begin"] + ["epoch"] * 4 + ["end"]
    assert [call[1] for call in recorder.calls[1:5]] == [0, 1, 2, 3]
    begin = recorder.calls[0]
    assert begin[1] == {}
    assert begin[2] == {"epochs": 4, "verbose": 0, "metrics": list(history.history)}
    for epoch, logs in enumerate(recorder.epoch_logs):
        assert logs == {key: figures[epoch] for key, figures in history.history.items()}
    assert recorder.calls[-1][1] == {key: figures[-1] for key, figures in history.history.items()}
    np.testing.assert_array_equal(recorder.weights[-1], model.parameters)  # the epoch's weights


def test_the_early_stopping_callback_equals_the_early_stopping_rule():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 5))
    y = X[:, 0] + rng.standard_normal(40)  # mostly noise: a wide net overfits it
    Xv = rng.standard_normal((200, 5))
    yv = Xv[:, 0] + rng.standard_normal(200)

    def run(**stopping):
        model = fastbp.Sequential([fastbp.Dense(5, 64, "relu"), fastbp.Dense(64, 1)],
                                  dtype="float64", seed=0)
        history = model.fit(X, y, epochs=1000, batch_size=None, optimizer=fastbp.Adam(0.02),
                            validation_data=(Xv, yv), seed=0, **stopping)
        return model, history

    rule_model, rule_history = run(early_stopping=fastbp.EarlyStopping(patience=8))
    callback = fastbp.callbacks.EarlyStopping(monitor="val_loss", patience=8)
    model, history = run(callbacks=[callback])
    assert rule_history.stopped_early and history.stopped_early
    assert history.loss == rule_history.loss and history.val_loss == rule_history.val_loss
    assert callback.best_epoch == rule_history.best_epoch < history.epochs - 1
    assert callback.stopped_epoch == history.epochs - 1
    np.testing.assert_array_equal(model.parameters, rule_model.parameters)  # the best weights
    assert model.loss(Xv, yv) == pytest.approx(min(history.val_loss), rel=1e-12)


def test_the_early_stopping_callback_on_the_training_metric_and_its_refusals():
    X, y = blobs()
    with pytest.raises(ValueError, match=r"EarlyStopping monitors 'accuracy', which this fit "
                                         r"does not log; it logs \['loss', 'lr', 'time'\]"):
        classifier().fit(X, y, callbacks=[fastbp.callbacks.EarlyStopping(monitor="accuracy")])
    stop = fastbp.callbacks.EarlyStopping(monitor="accuracy", patience=2,
                                          restore_best_weights=False)
    _, history = fitted(classifier(), X, y, epochs=200, metrics=["accuracy"], callbacks=[stop])
    best = int(np.argmax(history.accuracy))
    assert stop.best_epoch == best and history.epochs == stop.stopped_epoch + 1 < 200
    with pytest.raises(ValueError, match="monitor must be one of"):
        fastbp.callbacks.EarlyStopping(monitor="val_acc")


def test_model_checkpoint_writes_each_epoch_or_the_best(tmp_path):
    X, y = blobs()
    every = fastbp.callbacks.ModelCheckpoint(tmp_path / "epoch-{epoch:02d}.safetensors")
    best = fastbp.callbacks.ModelCheckpoint(tmp_path / "best.safetensors", monitor="val_loss",
                                            save_best_only=True)
    model, history = fitted(classifier(), X, y, epochs=5, validation_split=0.3,
                            optimizer=fastbp.Adam(0.05), callbacks=[every, best])
    assert sorted(os.listdir(tmp_path)) == ["best.safetensors"] + [
        f"epoch-{e:02d}.safetensors" for e in range(1, 6)]
    np.testing.assert_array_equal(fastbp.load(tmp_path / "epoch-05.safetensors").parameters,
                                  model.parameters)
    kept = fastbp.load(tmp_path / "best.safetensors")
    assert kept.loss(X[63:], y[63:]) == pytest.approx(min(history.val_loss), rel=1e-12)
    assert best.best == min(history.val_loss)


def test_callbacks_are_checked_before_training():
    X, y = blobs()
    model = classifier()
    before = model.parameters.copy()
    with pytest.raises(TypeError, match=r"callbacks\[0\] is a fastbp.EarlyStopping, the rule "
                                        r"fit's early_stopping= takes"):
        model.fit(X, y, validation_split=0.2, callbacks=[fastbp.EarlyStopping()])
    with pytest.raises(TypeError, match="early_stopping= takes fastbp.EarlyStopping.*is a "
                                        "callback"):
        model.fit(X, y, validation_split=0.2, early_stopping=fastbp.callbacks.EarlyStopping())
    with pytest.raises(TypeError, match="callbacks must be a list of fastbp.Callback"):
        model.fit(X, y, callbacks=Recorder())
    with pytest.raises(TypeError, match=r"callbacks\[1\] must be a fastbp.Callback; got function"):
        model.fit(X, y, callbacks=[Recorder(), lambda epoch, logs: None])
    np.testing.assert_array_equal(model.parameters, before)


# ---- 4b. class_weight ---------------------------------------------------------------------------

@pytest.mark.parametrize("one_hot", [False, True], ids=["labels", "one-hot"])
@pytest.mark.parametrize("with_sample_weight", [False, True])
def test_class_weight_equals_the_equivalent_sample_weight(one_hot, with_sample_weight):
    X, y = blobs()
    targets = np.eye(3)[y] if one_hot else y
    class_weight = {0: 2.5, 2: 0.25}  # class 1 left out: weight 1
    per_class = np.array([2.5, 1.0, 0.25])
    sample_weight = np.random.default_rng(7).uniform(0.5, 2, len(y)) if with_sample_weight \
        else None
    equivalent = per_class[y] * (1.0 if sample_weight is None else sample_weight)
    by_class, history = fitted(classifier(), X, targets, class_weight=class_weight,
                               sample_weight=sample_weight, validation_split=0.2)
    by_weight, weighted_history = fitted(classifier(), X, targets, sample_weight=equivalent,
                                         validation_split=0.2)
    np.testing.assert_array_equal(by_class.parameters, by_weight.parameters)
    assert history.loss == weighted_history.loss
    unweighted, _ = fitted(classifier(), X, targets, validation_split=0.2)
    assert not np.array_equal(unweighted.parameters, by_class.parameters)  # it did weigh


def test_class_weight_for_a_single_sigmoid_output():
    X, y = blobs(k=2)
    model = lambda: fastbp.Sequential([fastbp.Dense(5, 4, "tanh"), fastbp.Dense(4, 1, "sigmoid")],
                                      loss="binary_cross_entropy", dtype="float64", seed=0)
    by_class, _ = fitted(model(), X, y, class_weight={1: 3.0})
    by_weight, _ = fitted(model(), X, y, sample_weight=np.where(y == 1, 3.0, 1.0))
    np.testing.assert_array_equal(by_class.parameters, by_weight.parameters)


@pytest.mark.parametrize("make, class_weight, message", [
    (regressor, {0: 1.0}, r"class_weight is for the classification losses.*this model's loss "
                          r"is 'squared_error'"),
    (classifier, {3: 1.0}, r"class_weight has the key 3, which is not a class of this model: "
                           r"the classes are 0 to 2"),
    (classifier, {"a": 1.0}, r"class_weight has the key 'a'"),
    (classifier, {0: -1.0}, r"class_weight\[0\] must be a finite number >= 0; got -1.0"),
    (lambda: fastbp.Sequential([fastbp.Dense(5, 2, "sigmoid")], loss="binary_cross_entropy"),
     {0: 1.0}, r"class_weight is for one label per row; this model has 2"),
])
def test_class_weight_refusals(make, class_weight, message):
    X, y = blobs()
    model = make()
    targets = {2: np.eye(2)[y % 2], 3: y}.get(model.n_outputs, y[:, None] * np.ones((1, 2)))
    with pytest.raises(ValueError, match=message):
        model.fit(X[:, :model.n_inputs], targets, class_weight=class_weight)
    with pytest.raises(TypeError, match="class_weight must be a dict"):
        classifier().fit(X, y, class_weight=[1.0, 2.0, 3.0])


# ---- 5. the metrics, by their names -------------------------------------------------------------

class PredictedAccuracy(fastbp.Callback):
    """The oracle of the training accuracy: ``predict`` on the training rows after each epoch."""

    def __init__(self, X, y):
        self.X, self.y, self.logged, self.predicted = X, y, [], []

    def on_epoch_end(self, epoch, logs=None):
        self.logged.append(logs["accuracy"])
        self.predicted.append(np.mean(self.model.predict(self.X).argmax(axis=1) == self.y))


def test_training_accuracy_is_the_accuracy_of_predict_at_the_end_of_each_epoch():
    X, y = blobs()
    oracle = PredictedAccuracy(X[:72], y[:72])  # validation_split holds out the last 18 rows
    model, history = fitted(classifier(), X, y, epochs=5, validation_split=0.2,
                            metrics=["accuracy"], callbacks=[oracle])
    assert history.accuracy == oracle.logged == oracle.predicted
    assert history.accuracy[-1] == np.mean(model.predict(X[:72]).argmax(axis=1) == y[:72])
    assert history.metric is history.accuracy and history.history["accuracy"] is history.metric
    assert history.val_accuracy[-1] == np.mean(model.predict(X[72:]).argmax(axis=1) == y[72:])


def test_training_r2_and_binary_accuracy():
    X, Y = regression_data()
    model, history = fitted(regressor(), X, Y, metrics=["r2"])
    assert history.r2[-1] == pytest.approx(r2_score(Y, model.predict(X)), rel=1e-12)
    Xb, yb = blobs(k=2)
    binary = fastbp.Sequential([fastbp.Dense(5, 1, "sigmoid")], loss="binary_cross_entropy",
                               dtype="float64", seed=0)
    binary, history = fitted(binary, Xb, yb, metrics=["acc"])
    assert history.accuracy[-1] == np.mean((binary.predict(Xb)[:, 0] > 0.5) == yb)


def test_metric_names_are_the_same_everywhere(capsys):
    X, y = blobs()
    _, history = fitted(classifier(), X, y, epochs=2, validation_split=0.2, verbose=2)
    assert list(history.history) == ["loss", "lr", "time", "val_loss", "val_accuracy"]
    assert history.val_accuracy is history.val_metric and history.accuracy == []
    with pytest.raises(AttributeError, match="this History's metric is 'accuracy'"):
        history.val_r2
    line = capsys.readouterr().out.splitlines()[-1]
    assert "val_accuracy" in line and "val_metric" not in line
    _, regression = fitted(regressor(), *regression_data(), validation_split=0.2)
    assert regression.val_r2 is regression.val_metric
    assert list(regression.history)[-1] == "val_r2"


def test_the_stopping_rule_takes_the_keras_names_of_the_metric():
    X, y = blobs()
    runs = {}
    for monitor in ("val_metric", "val_accuracy"):
        stopper = fastbp.EarlyStopping(monitor=monitor, patience=3)
        model, history = fitted(classifier(), X, y, epochs=200, validation_split=0.3,
                                early_stopping=stopper)
        runs[monitor] = (model.parameters.copy(), history.loss, history.best_epoch)
    np.testing.assert_array_equal(runs["val_metric"][0], runs["val_accuracy"][0])
    assert runs["val_metric"][1:] == runs["val_accuracy"][1:]
    with pytest.raises(ValueError, match=r"early stopping on 'val_r2', which this fit does not "
                                         r"log"):
        classifier().fit(X, y, validation_split=0.2,
                         early_stopping=fastbp.EarlyStopping(monitor="val_r2"))


@pytest.mark.parametrize("make, metrics, error, message", [
    (regressor, ["accuracy"], ValueError, "unknown metric 'accuracy' for this model: its loss "
                                          "gives 'r2'"),
    (classifier, ["mse"], ValueError, "unknown metric 'mse'"),
    (classifier, "accuracy", TypeError, "metrics must be a list of names"),
])
def test_metrics_refusals(make, metrics, error, message):
    X, y = blobs()
    model = make()
    with pytest.raises(error, match=message):
        model.fit(X[:, :model.n_inputs], y, metrics=metrics)


# ---- 6. numerical_gradients' default step -------------------------------------------------------

def _relative_gap(numerical, backprop):
    """``max |numerical - backprop| / max |backprop|`` over every parameter, in float64."""
    a = np.concatenate([g.ravel() for pair in numerical for g in pair]).astype(np.float64)
    b = np.concatenate([g.ravel() for pair in backprop for g in pair]).astype(np.float64)
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


def _tanh_network(dtype, seed):
    rng = np.random.default_rng(seed)
    model = fastbp.Sequential([fastbp.Dense(4, 6, "tanh"), fastbp.Dense(6, 5, "tanh"),
                               fastbp.Dense(5, 2)], dtype=dtype, seed=seed)
    return model, rng.standard_normal((20, 4)), rng.standard_normal((20, 2))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_default_step_agrees_with_backprop_in_float32_and_the_float64_step_would_not(seed):
    model, X, y = _tanh_network("float32", seed)
    backprop = model.gradients(X, y)
    assert _relative_gap(model.numerical_gradients(X, y), backprop) < 1e-2
    # the old default, right for float64, is lost to rounding in float32: the test can fail
    assert _relative_gap(model.numerical_gradients(X, y, eps=1e-6), backprop) > 1e-2


def test_the_default_step_is_the_cube_root_of_the_machine_epsilon():
    assert default_difference_step("float32") == pytest.approx(2.0 ** (-23 / 3))  # 4.9e-3
    assert default_difference_step("float64") == pytest.approx(2.0 ** (-52 / 3))  # 6.1e-6
    model, X, y = _tanh_network("float64", 0)
    assert _relative_gap(model.numerical_gradients(X, y), model.gradients(X, y)) < 1e-8


# ---- 7. text labels -----------------------------------------------------------------------------

@pytest.mark.parametrize("labels", [
    lambda y: np.array(["cat", "dog", "eel"])[y],
    lambda y: list(np.array(["cat", "dog", "eel"])[y]),
    lambda y: np.array(["cat", "dog", "eel"], dtype=object)[y],
], ids=["str-array", "list", "object-array"])
def test_text_labels_say_what_to_do(labels):
    X, y = blobs()
    hint = (r"y must be numeric; got dtype .*Sequential takes class labels as integers.*"
            r"sklearn\.preprocessing\.LabelEncoder.*fastbp\.MLPClassifier")
    with pytest.raises(TypeError, match=hint):
        classifier().fit(X, labels(y))
    with pytest.raises(TypeError, match=hint):
        classifier().fit(X, y, validation_data=(X, labels(y)))
    with pytest.raises(TypeError, match=hint):
        classifier().loss(X, labels(y))
    # the hint's recipe works: encoded labels train, and decode back
    from sklearn.preprocessing import LabelEncoder

    encoder = LabelEncoder()
    model, _ = fitted(classifier(), X, encoder.fit_transform(labels(y)))
    decoded = encoder.inverse_transform(model.predict(X).argmax(axis=1))
    assert set(decoded) <= {"cat", "dog", "eel"}
