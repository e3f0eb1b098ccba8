"""Which simulcast layer each of a viewer's consumers sends, given the viewer's bandwidth.

Pure: the transport gathers each consumer's demand (the bitrate of every layer its
producer sends now) and applies the choice; the consumer switches when the chosen
layer's next keyframe arrives.
"""

from collections.abc import Sequence
from dataclasses import dataclass

# Going up needs this much room beyond the new layer's bitrate, so that a layer that
# only just fits does not flap up and down with every estimate.
UP_HEADROOM = 0.15


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerDemand:
    """One consumer's options: the bitrate of each layer (None: not being sent now), the
    layer it sends now (None before its first), and the highest its viewer wants."""

    bitrates: Sequence[float | None]
    current: int | None = None
    max_layer: int | None = None
    adjustable: bool = True  # False: one layer only (audio, a screen), taken as it is


def allocate_layers(budget: float | None, demands: Sequence[LayerDemand]) -> list[int]:
    """The layer each consumer should send. Without a budget every consumer gets its best
    layer; with one, fixed streams are taken first, then every simulcast consumer gets its
    lowest layer and they step up in turn while the budget allows."""
    choice = [_best(d) for d in demands]
    if budget is None:
        return choice
    remaining = budget
    for index, demand in enumerate(demands):
        if not demand.adjustable:
            remaining -= _rate(demand, choice[index])
    ladders = [_layers(d) for d in demands]
    for index, demand in enumerate(demands):
        if demand.adjustable and ladders[index]:
            choice[index] = ladders[index][0]
            remaining -= _rate(demand, choice[index])
    stepped = True
    while stepped:
        stepped = False
        for index, demand in enumerate(demands):
            ladder = ladders[index]
            if not demand.adjustable or not ladder or choice[index] == ladder[-1]:
                continue
            following = ladder[ladder.index(choice[index]) + 1]
            cost = _rate(demand, following) - _rate(demand, choice[index])
            room = cost
            if demand.current is None or following > demand.current:
                room += UP_HEADROOM * _rate(demand, following)
            if room <= remaining:
                choice[index] = following
                remaining -= cost
                stepped = True
    return choice


def _layers(demand: LayerDemand) -> list[int]:
    """The layers being sent now, up to the viewer's limit, lowest first."""
    top = len(demand.bitrates) - 1 if demand.max_layer is None else min(demand.max_layer, len(demand.bitrates) - 1)
    return [layer for layer in range(top + 1) if demand.bitrates[layer] is not None]


def _best(demand: LayerDemand) -> int:
    layers = _layers(demand)
    if layers:
        return layers[-1]
    # Nothing is being sent yet: the best layer allowed, whose first keyframe starts it.
    top = len(demand.bitrates) - 1
    return top if demand.max_layer is None else max(0, min(demand.max_layer, top))


def _rate(demand: LayerDemand, layer: int) -> float:
    rate = demand.bitrates[layer] if 0 <= layer < len(demand.bitrates) else None
    return rate or 0.0
