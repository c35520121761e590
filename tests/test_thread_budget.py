"""``thread_budget``: the thread count a caller that owns some cores sets for its own epochs."""

import threading

import pytest
from fastbp.kernels.cpu.threads import thread_budget, thread_count


def test_budget_holds_for_its_thread_only_and_nests():
    outside = thread_count()
    seen = []
    with thread_budget(outside + 2):
        assert thread_count() == outside + 2
        with thread_budget(1):
            assert thread_count() == 1
        assert thread_count() == outside + 2
        other = threading.Thread(target=lambda: seen.append(thread_count()))
        other.start()
        other.join()
    assert seen == [outside]  # another thread still reads Numba's setting
    assert thread_count() == outside


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-1, ValueError), (1.5, TypeError),
                                        (True, TypeError), ("2", TypeError)])
def test_budget_refuses_what_is_not_a_positive_integer(bad, error):
    with pytest.raises(error, match=r"threads must be an integer >= 1; got"), \
            thread_budget(bad):
        pass
