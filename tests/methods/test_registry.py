"""The method registry: every method registered once by its own module, looked up by name."""

import pytest

from upgan.methods import registry
from upgan.methods.registry import ROLES, MethodSpec, get, names, proposed, register

PAPER_METHODS = {"upgan", "upgan_no_guidance", "pix2pix", "pan", "medgan"}


def test_every_module_with_a_spec_is_registered():
    import importlib
    import pkgutil

    import upgan.methods as package

    declared = set()
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"upgan.methods.{info.name}")
        spec = getattr(module, "SPEC", None)
        if spec is not None:
            declared.add(spec.name)
            assert info.name == spec.name  # one module per method, named after it
        configurations = [s.name for s in getattr(module, "SPECS", ())]
        if configurations:  # one plug-in's configurations: the module is named after the first
            assert configurations[0] == info.name
            declared.update(configurations)
    assert declared == set(names()) and PAPER_METHODS <= declared


def test_roles_kinds_and_labels():
    assert proposed() == "upgan"
    assert set(names(role="baseline")) == {"pix2pix", "pan", "medgan"}
    assert names(role="ablation") == ["upgan_no_guidance"]
    assert names(role="control") == ["unet_l1"]
    assert {"upgan", "upgan_no_guidance"} <= set(names(kind="cascade"))
    assert set(names(kind="cascade")) - {"upgan", "upgan_no_guidance"} == set(names(role="variant"))
    assert set(names(kind="single")) == set(names()) - set(names(kind="cascade"))
    assert all(get(n).role in ROLES and get(n).label for n in names())
    assert len({get(n).label for n in names()}) == len(names())
    guidance = {n: get(n).plugin.cascade_config({"n_phases": 2}).guidance for n in ("upgan", "upgan_no_guidance")}
    assert guidance == {"upgan": "paper_eq4", "upgan_no_guidance": "none"}
    order = [get(n).order for n in names()]
    assert order == sorted(order)


def test_single_methods_declare_their_parameters():
    for name in names(kind="single"):
        single = get(name).single
        assert "input_residual" in single.defaults
        assert set(single.nested) <= set(single.defaults)


def test_unknown_names_fail_with_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown method 'cyclegan'; known methods: " + ", ".join(names())):
        get("cyclegan")
    with pytest.raises(ValueError, match="known roles"):
        names(role="competitor")
    with pytest.raises(ValueError, match="role must be one of"):
        MethodSpec(name="x", label="X", role="competitor", summary="", order=0, plugin=get("pix2pix").plugin)


def test_a_second_method_of_the_same_name_is_refused(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    clash = MethodSpec(name="pix2pix", label="another", role="baseline", summary="", order=1,
                       plugin=get("pan").plugin)
    with pytest.raises(ValueError, match="registered twice"):
        register(clash)
