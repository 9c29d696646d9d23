"""``upgan launch --params``: items split at the commas outside brackets, as a study in parts
needs (``seeds=[2024,2025]``)."""

from upgan.launch.command import split_params


def test_a_list_value_is_one_item():
    assert split_params("seeds=[2024,2025],data_root=/x") == ["seeds=[2024,2025]", "data_root=/x"]
    assert split_params(" a=1 , b={c: 1, d: [2,3]} ,") == ["a=1", "b={c: 1, d: [2,3]}"]
    assert split_params("") == []
