import json

import pytest

from common.group_json import GroupFileError, load_groups, save_groups, validate_groups
from common.groups import derive_iss_groups
from tests.helpers import stacked_lstm_model


def _write(tmp_path, data, name="groups.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def test_round_trip_keeps_every_slice(tmp_path):
    model = stacked_lstm_model()
    groups = derive_iss_groups(model)
    path = str(tmp_path / "g.json")
    save_groups(groups, path)
    loaded = load_groups(path)
    assert [g.slices for g in loaded] == [g.slices for g in groups]
    validate_groups(model, loaded)
    raw = json.loads(open(path).read())
    assert set(raw["groups"][0][0]) == {"var_name", "multi", "axis", "start", "end", "role"}


def test_reference_style_file_with_name_map(tmp_path):
    """A file in the reference's own layout (TF1 names, no roles) maps onto Keras paths."""
    data = {
        "comments": ["..."],
        "groups": [[
            {"var_name": "model/W", "multi": 2.0, "axis": 1, "start": 0, "end": 5},
            {"var_name": "model/U", "multi": 2.0, "axis": 0, "start": 4, "end": 9},
        ]],
    }
    groups = load_groups(_write(tmp_path, data), name_map={"model/W": "lstm0/lstm_cell/recurrent_kernel", "model/U": "lstm1/lstm_cell/kernel"})
    assert groups[0].multiplier == 2.0 and groups[0].size == 5
    assert groups[0].slices[0].variable == "lstm0/lstm_cell/recurrent_kernel"


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "malformed JSON"),
        ({"group": []}, "expected an object with a 'groups' list"),
        ({"groups": [[{"var_name": "a", "axis": 1, "start": 0}]]}, "group set 0, slice 0: missing key\\(s\\) end"),
        ({"groups": [[{"var_name": "a", "axis": 1, "start": 0, "end": 2, "mult": 1}]]}, "unknown key\\(s\\) mult"),
        ({"groups": [[{"var_name": "a", "axis": "1", "start": 0, "end": 2}]]}, "axis must be an integer"),
        ({"groups": [[{"var_name": "a", "axis": 1, "start": 0, "end": 2}, {"var_name": "b", "axis": 0, "start": 0, "end": 3}]]}, "same number of components"),
        ({"groups": [[{"var_name": "a", "axis": 1, "start": 0, "end": 2, "multi": 1}, {"var_name": "b", "axis": 0, "start": 0, "end": 2, "multi": 2}]]}, "disagree on 'multi'"),
        ({"groups": [[]]}, "non-empty list"),
    ],
)
def test_malformed_group_files_name_the_problem(tmp_path, content, message):
    with pytest.raises(GroupFileError, match=message):
        load_groups(_write(tmp_path, content))


def test_missing_file_unknown_variable_and_out_of_range(tmp_path):
    with pytest.raises(GroupFileError, match="group file not found"):
        load_groups(str(tmp_path / "nope.json"))
    model = stacked_lstm_model(sizes=(5, 4))
    unknown = load_groups(_write(tmp_path, {"groups": [[{"var_name": "lstm9/kernel", "axis": 1, "start": 0, "end": 2}]]}))
    with pytest.raises(KeyError, match="unknown variable 'lstm9/kernel'"):
        validate_groups(model, unknown)
    too_far = load_groups(_write(tmp_path, {"groups": [[{"var_name": "lstm0/lstm_cell/recurrent_kernel", "axis": 1, "start": 3, "end": 8}]]}))
    with pytest.raises(ValueError, match="out of range for shape \\(5, 20\\)"):
        validate_groups(model, too_far)
