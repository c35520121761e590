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
"""

from numba import types
from numba.core.errors import TypingError
from numba.extending import intrinsic

from .tables import call_at_address

_expected = {}  # part -> the argument types its address was compiled for


def expect(part, argument_types):
    """Record the argument types the address of ``part`` (``"train_rows"`` or ``"update_chunk"``)
    was compiled for, so that compiling a call to it can check them."""
    _expected[part] = tuple(argument_types)


def address(dispatcher, argument_types, return_type):
    """The address of ``dispatcher`` compiled (or loaded from the cache) for these types.

    Parameters
    ----------
    dispatcher : numba dispatcher
    argument_types : tuple of numba types
    return_type : numba type

    Returns
    -------
    int
    """
    signature = return_type(*argument_types)
    result = dispatcher.overloads.get(signature.args)
    if result is None:
        dispatcher.compile(signature)
        result = dispatcher.overloads[signature.args]
    return result.library.get_pointer_to_function(result.fndesc.llvm_func_name)


def _checked(part, argument_types):
    expected = _expected.get(part)
    if expected != tuple(argument_types):
        raise TypingError(f"the epoch calls {part} with argument types {argument_types}, but its "
                          f"address was compiled for {expected}")


@intrinsic
def call_train_rows(typingctx, address, space, theta, gradient, network, kernels, data, batch,
                    rates, key):
    """Call the shard pass (``cpu_epoch._train_rows``) at ``address``; returns its float64."""
    arguments = (space, theta, gradient, network, kernels, data, batch, rates, key)
    _checked("train_rows", arguments)
    return types.float64(types.int64, *arguments), call_at_address


@intrinsic
def call_update_chunk(typingctx, address, state, shard_grads, network, bounds, update, kernels,
                      step):
    """Call the update of one chunk (``cpu_epoch._update_chunk``) at ``address``; returns its
    float64."""
    arguments = (state, shard_grads, network, bounds, update, kernels, step)
    _checked("update_chunk", arguments)
    return types.float64(types.int64, *arguments), call_at_address
