"""The test session keeps ``tempfile``'s staging out of the system temp folder."""

import os
import tempfile
from pathlib import Path


def test_tempfile_and_subprocesses_stage_inside_the_session_tree(tmp_path_factory, temp_folder):
    base = tmp_path_factory.getbasetemp().resolve()
    with tempfile.TemporaryDirectory() as staged:
        assert Path(staged).resolve().is_relative_to(base)
    handle, name = tempfile.mkstemp()
    os.close(handle)
    assert Path(name).resolve().parent == Path(temp_folder).resolve()
    assert os.environ["TMPDIR"] == str(temp_folder)
