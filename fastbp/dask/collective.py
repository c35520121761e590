"""A ring all-reduce among the workers of one fit, over TCP connections they open to each other.

The gradient-synchronised Dask fit (:mod:`fastbp.dask.replicas`) sums one gradient vector over
the workers at every optimizer step. A round trip through the scheduler per step would cost
milliseconds each; instead, as XGBoost's and LightGBM's Dask estimators do, Dask places the data
and starts the tasks, and the workers then talk to each other directly: each keeps one connection
to the next worker of a ring and one from the previous, and moves raw array bytes over them.

The sum is the classic ring all-reduce (a reduce-scatter, then an all-gather): the vector is cut
into one chunk per worker; each chunk is summed along the ring in a fixed order starting at its
own worker and then copied to every other worker unchanged. Every worker therefore ends with
bitwise the same sum, whatever the timing, and each sends ``2 (N - 1) / N`` times the vector per
call, whatever ``N``.

The connections are plain non-blocking TCP sockets: no Python objects travel, no pickling, and
the waits release the GIL. Every wait is bounded by the fit's ``timeout``; a worker that leaves
closes its connections, so its neighbours fail at once instead of waiting. Each worker listens on
a port the operating system picks, on the address it serves Dask on: the workers must reach each
other there, as they do for Dask's own transfers of data between them. The ring's bytes are
gradients, not code, and travel unencrypted even where Dask's own connections use TLS.
"""

import os
import selectors
import socket
import struct
import time

import numpy as np

#: The bytes a connecting worker sends first: a fit's token (16 bytes) and its rank.
_HELLO = struct.Struct("!16sq")


class RingError(ConnectionError):
    """A neighbour of the ring closed its connection or broke the protocol."""


def new_token():
    """A fresh random token that names one fit's ring (16 bytes)."""
    return os.urandom(16)


class Listener:
    """A listening TCP socket on this worker's host, for the previous worker of the ring.

    Parameters
    ----------
    host : str
        The address the worker serves Dask on (its other workers reach it there).
    """

    def __init__(self, host):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_STREAM)
        self.socket.bind((host, 0))
        self.socket.listen(1)
        self.address = (host, self.socket.getsockname()[1])

    def close(self):
        self.socket.close()


def _connected(address, timeout):
    sock = socket.create_connection(address, timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _receive_exactly(sock, size):
    data = bytearray()
    while len(data) < size:
        part = sock.recv(size - len(data))
        if not part:
            raise RingError("a worker of the ring closed its connection while joining")
        data += part
    return bytes(data)


class Ring:
    """This worker's place in the ring: a connection to the next worker and one from the previous.

    Parameters
    ----------
    listener : Listener
        This worker's, already listening; closed once the previous worker has connected.
    addresses : list of (str, int)
        Every worker's listener, in ring order.
    rank : int
        This worker's position in ``addresses``.
    token : bytes
        The fit's token (:func:`new_token`); a connection that does not present it is refused.
    timeout : float
        Seconds any one wait may last, joining included.

    Examples
    --------
    On each of ``N`` workers (rank ``r``), with the same ``addresses`` and ``token``::

        ring = Ring(listener, addresses, r, token, timeout=60.0)
        ring.allreduce(vector)   # vector now holds the sum over the N workers' vectors
        ring.close()
    """

    def __init__(self, listener, addresses, rank, token, timeout):
        self.rank, self.size, self.timeout = rank, len(addresses), float(timeout)
        self.bytes_sent = 0
        self._selector = selectors.DefaultSelector()
        self._watched = set()
        if self.size == 1:  # a ring of one sums nothing
            listener.close()
            self.left = self.right = None
            return
        right = tuple(addresses[(rank + 1) % self.size])
        self.right = None
        try:
            # the next worker's listener is open already (its task ran before this one): the
            # connection completes without it accepting, so no worker waits for another here
            self.right = _connected(right, self.timeout)
            self.right.sendall(_HELLO.pack(token, rank))
            listener.socket.settimeout(self.timeout)
            expected = (rank - 1) % self.size
            while True:
                left, _ = listener.socket.accept()
                left.settimeout(self.timeout)
                hello = _HELLO.unpack(_receive_exactly(left, _HELLO.size))
                if hello == (token, expected):
                    break
                left.close()  # not this fit's previous worker
        except BaseException as error:
            if self.right is not None:
                self.right.close()  # a ring that failed to join leaves no connection open
            if isinstance(error, socket.timeout):
                raise TimeoutError(f"worker {rank} of the ring waited {self.timeout:g} s for "
                                   f"its neighbours to connect") from None
            raise
        finally:
            listener.close()
        left.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.left = left
        for sock in (self.left, self.right):
            sock.setblocking(False)

    def allreduce(self, vector):
        """Replace ``vector`` by its sum over the ring's workers, in place.

        Parameters
        ----------
        vector : ndarray of shape (n,)
            C-contiguous; every worker passes one of the same length and dtype.

        Returns
        -------
        ndarray of shape (n,)
            ``vector``, bitwise equal on every worker.
        """
        n = self.size
        if n == 1:
            return vector
        bounds = [i * vector.shape[0] // n for i in range(n + 1)]
        chunks = [vector[bounds[i]:bounds[i + 1]] for i in range(n)]
        incoming = np.empty(bounds[1] - bounds[0] + 1, vector.dtype)
        r = self.rank
        # reduce-scatter: chunk c is summed from worker c onwards, so worker r ends with the
        # whole sum of chunk r + 1
        for k in range(n - 1):
            send, receive = chunks[(r - k) % n], chunks[(r - k - 1) % n]
            got = incoming[:receive.shape[0]]
            self._exchange(send, got)
            receive += got
        # all-gather: each finished chunk goes round unchanged
        for k in range(n - 1):
            self._exchange(chunks[(r + 1 - k) % n], chunks[(r - k) % n])
        return vector

    def _exchange(self, outgoing, incoming):
        """Send ``outgoing`` to the next worker while receiving ``incoming`` from the previous one
        (both at once: a ring of blocking sends could fill every socket buffer and stall)."""
        out = memoryview(outgoing).cast("B")
        into = memoryview(incoming).cast("B")
        sent = received = 0
        deadline = time.monotonic() + self.timeout
        while sent < len(out) or received < len(into):
            progress = False
            if sent < len(out):
                try:
                    sent += self.right.send(out[sent:])
                    progress = True
                except BlockingIOError:
                    pass
            if received < len(into):
                try:
                    got = self.left.recv_into(into[received:])
                except BlockingIOError:
                    got = None
                if got == 0:
                    raise RingError(f"worker {(self.rank - 1) % self.size} of the ring closed "
                                    f"its connection (it left, or its task failed)")
                if got:
                    received += got
                    progress = True
            if progress:
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"worker {self.rank} of the ring waited {self.timeout:g} s "
                                   f"for its neighbours")
            self._wait(sent < len(out), received < len(into), left)
        self.bytes_sent += len(out)

    def _wait(self, sending, receiving, seconds):
        """Sleep until the next worker can take bytes (``sending``) or the previous one has sent
        some (``receiving``), at most ``seconds``; the caller then tries both again."""
        for sock, event, wanted in ((self.right, selectors.EVENT_WRITE, sending),
                                    (self.left, selectors.EVENT_READ, receiving)):
            if wanted and sock not in self._watched:
                self._selector.register(sock, event)
                self._watched.add(sock)
            elif not wanted and sock in self._watched:
                self._selector.unregister(sock)
                self._watched.discard(sock)
        self._selector.select(seconds)

    def close(self):
        """Close both connections (the neighbours' next calls then fail at once); closing twice
        does nothing more."""
        self._selector.close()
        for sock in (self.left, self.right):
            if sock is not None:
                sock.close()
