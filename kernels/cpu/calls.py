"""Calls from the compiled epoch to its two big parts through their addresses, not by linking.

A Numba function links the code of every jitted function it calls into its own and optimises and
compiles it all again: the epoch worker re-did the whole of the shard pass and the update, about
60% of its code, on every cold start. Here the epoch worker calls them at an address it is handed
at run time (as :mod:`fastbp.kernels.cpu.tables` does for the per-activation kernels), and each
part is compiled, and cached, once on its own.

An address carries no type, so each call checks at compile time that the argument types the
epoch worker passes are those the part was compiled for (:func:`expect`, set by
:func:`fastbp.kernels.cpu.epoch._entry_point` before it compiles the worker): a mismatch is a
compile error, never a call with the wrong layout.

Addresses and calls to them are Numba internals (:mod:`fastbp.kernels.cpu.numba_internals`). On the
public path (:mod:`fastbp.kernels.cpu.numba_path`) :func:`address` only compiles the part and
returns 0, and the calls of the same names are ``numba.extending.overload`` s that call the part
compiled for those argument types as any jitted function calls another: its code is compiled into
the worker's again, a longer cold compile for the same code at run time.
"""

from numba.core.errors import TypingError

from .numba_path import FAST

_expected = {}  # part -> the argument types its address was compiled for
_compiled = {}  # argument types -> the part compiled for them (the public path calls it)


def expect(part, argument_types):
    """Record the argument types the address of ``part`` (``"train_rows"`` or ``"update_chunk"``)
    was compiled for, so that compiling a call to it can check them."""
    _expected[part] = tuple(argument_types)


def address(dispatcher, argument_types, return_type):
    """The address of ``dispatcher`` compiled (or loaded from the cache) for these types; 0 on
    the public path, which calls it by name.

    Parameters
    ----------
    dispatcher : numba dispatcher
    argument_types : tuple of numba types
    return_type : numba type

    Returns
    -------
    int
    """
    argument_types = tuple(argument_types)
    signature = return_type(*argument_types)
    _compiled[argument_types] = dispatcher
    if FAST:
        return _address_of(dispatcher, signature.args)
    dispatcher.compile(signature)
    return 0


def _checked(part, argument_types):
    expected = _expected.get(part)
    if expected != tuple(argument_types):
        raise TypingError(f"the epoch calls {part} with argument types {argument_types}, but its "
                          f"address was compiled for {expected}")


def _compiled_for(part, argument_types):
    found = _compiled.get(tuple(argument_types))
    if found is None:
        raise TypingError(f"the epoch calls {part} with argument types {argument_types}, for "
                          f"which no {part} was compiled")
    return found


if FAST:
    from .numba_internals import address as _address_of, float64_call_7, float64_call_9

    #: Call the shard pass (``cpu_epoch._train_rows``) at an address, with its nine arguments
    #: (``space, theta, gradient, network, kernels, data, batch, rates, key``); returns its float64.
    call_train_rows = float64_call_9(
        "call_train_rows", lambda arguments: _checked("train_rows", arguments))

    #: Call the update of one chunk (``cpu_epoch._update_chunk``) at an address, with its seven
    #: arguments (``state, shard_grads, network, bounds, update, kernels, step``); returns its
    #: float64.
    call_update_chunk = float64_call_7(
        "call_update_chunk", lambda arguments: _checked("update_chunk", arguments))
else:
    from numba.extending import overload

    def call_train_rows(address, space, theta, gradient, network, kernels, data, batch, rates,
                        key):
        """Call the shard pass (``cpu_epoch._train_rows``) compiled for these arguments' types;
        returns its float64 (compiled code only)."""
        raise NotImplementedError("called from compiled code only")

    def call_update_chunk(address, state, shard_grads, network, bounds, update, kernels, step):
        """Call the update of one chunk (``cpu_epoch._update_chunk``) compiled for these
        arguments' types; returns its float64 (compiled code only)."""
        raise NotImplementedError("called from compiled code only")

    @overload(call_train_rows)
    def _call_train_rows(address, space, theta, gradient, network, kernels, data, batch, rates,
                         key):
        arguments = (space, theta, gradient, network, kernels, data, batch, rates, key)
        _checked("train_rows", arguments)
        part = _compiled_for("train_rows", arguments)

        def call(address, space, theta, gradient, network, kernels, data, batch, rates, key):
            return part(space, theta, gradient, network, kernels, data, batch, rates, key)
        return call

    @overload(call_update_chunk)
    def _call_update_chunk(address, state, shard_grads, network, bounds, update, kernels, step):
        arguments = (state, shard_grads, network, bounds, update, kernels, step)
        _checked("update_chunk", arguments)
        part = _compiled_for("update_chunk", arguments)

        def call(address, state, shard_grads, network, bounds, update, kernels, step):
            return part(state, shard_grads, network, bounds, update, kernels, step)
        return call
