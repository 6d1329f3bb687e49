"""The typed seam: every method a widget may call exists on the real services, same signature."""

from __future__ import annotations

import inspect

import pytest

from audiosoup_widgets.services import (
    AnnotationService,
    AudioService,
    ExportService,
    FeatureService,
    RelabelService,
    ReviewServices,
    SampleService,
)
from audiosoup_widgets.services.protocols import (
    AnnotationServices,
    AudioServices,
    ExportServices,
    FeatureServices,
    RelabelServices,
    SampleServices,
)


@pytest.mark.parametrize(
    "protocol,concrete",
    [
        (SampleServices, SampleService),
        (AudioServices, AudioService),
        (FeatureServices, FeatureService),
        (ExportServices, ExportService),
        (RelabelServices, RelabelService),
        (AnnotationServices, AnnotationService),
    ],
)
def test_each_protocol_method_matches_the_service(protocol, concrete):
    methods = [n for n, v in vars(protocol).items() if callable(v) and not n.startswith("_")]
    assert methods
    for name in methods:
        want = [p for p in inspect.signature(getattr(protocol, name)).parameters if p != "self"]
        have = [p for p in inspect.signature(getattr(concrete, name)).parameters if p != "self"]
        assert have == want, name


def test_the_bundle_has_one_service_per_concern(words):
    services, _, _ = words
    assert isinstance(services, ReviewServices)
    assert isinstance(services.samples, SampleService) and isinstance(services.audio, AudioService)
    assert isinstance(services.features, FeatureService)
    assert isinstance(services.exports, ExportService)
