"""The Hypothesis phases of the contract checks that skip the explain phase."""

from hypothesis import Phase

# The explain phase reruns a failing example hundreds of times to annotate it (seconds
# for a check whose examples hold tensors); the failure messages name the input already.
PHASES: tuple[Phase, ...] = tuple(phase for phase in Phase if phase is not Phase.explain)
