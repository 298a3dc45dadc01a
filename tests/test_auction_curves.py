"""Auction price curves: LinearCurve and StairstepExponentialCurve at their key points, bounded gas for very
long auctions, monotonicity, admin-only `file` with named errors, and property tests against
backstop.model.curves to the last unit."""

from __future__ import annotations

import os
from decimal import Decimal, getcontext

import ape
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backstop.model.curves import (
    RAY,
    UINT256_MAX,
    CutAboveOne,
    CutIsZero,
    LinearCurveModel,
    StairstepExponentialCurveModel,
    StepIsZero,
    TauIsZero,
    rpow_down,
    stairstep_down,
)
from backstop.units import to_wad

TAU = 3_600  # [seconds] LinearCurve fixture
CUT = 99 * RAY // 100  # [ray] 0.99: 1% cheaper per step
STEP = 90  # [seconds] StairstepExponentialCurve fixture
TOP = to_wad("6.02")  # [wad]
YEAR = 365 * 24 * 3600  # [seconds]
GAS_CAP = 60_000  # [gas] a price() call (21_000 base included) for any auction up to 100 years of 1 s steps
GAS_CAP_ANY = 150_000  # [gas] the worst case: elapsed = 2**256 - 1, step = 1, cut = RAY (all 256 rounds)


def b32(name: str) -> bytes:
    return name.encode("ascii").ljust(32, b"\0")


@pytest.fixture(scope="module")
def linear(project, admin, alice):
    """alice (the outsider of the access tests) is requested here so it exists before ape's module snapshot."""
    return admin.deploy(project.LinearCurve, admin, TAU)


@pytest.fixture(scope="module")
def stairstep(project, admin):
    return admin.deploy(project.StairstepExponentialCurve, admin, CUT, STEP)


# --- LinearCurve ----------------------------------------------------------------------------------------------


def test_linear_key_points(linear):
    assert linear.tau() == TAU
    assert linear.price(TOP, 0) == TOP
    assert linear.price(TOP, TAU // 2) == TOP // 2
    assert linear.price(TOP, TAU - 1) == TOP // TAU  # one second left: top / tau, rounded down
    assert linear.price(TOP, TAU) == 0
    assert linear.price(TOP, TAU + 1) == 0
    assert linear.price(TOP, 10 * YEAR) == 0
    assert linear.price(TOP, UINT256_MAX) == 0
    assert linear.price(0, 0) == 0


def test_linear_rounds_down_and_takes_any_top(linear, admin):
    linear.file(b32("tau"), 3, sender=admin)
    assert linear.price(10, 1) == 6  # 20 / 3 = 6.67
    assert linear.price(10, 2) == 3  # 10 / 3 = 3.33
    assert linear.price(UINT256_MAX, 1) == UINT256_MAX * 2 // 3  # 512-bit product, no overflow


def test_linear_file_sets_tau_and_emits(linear, admin):
    tx = linear.file(b32("tau"), 7_200, sender=admin)
    assert linear.tau() == 7_200
    assert linear.ParameterSet(what=b32("tau"), data=7_200) in tx.events
    assert linear.price(TOP, 3_600) == TOP // 2


def test_linear_deploy_emits_and_rejects_bad_parameters(project, admin):
    curve = admin.deploy(project.LinearCurve, admin, 1)
    assert curve.price(TOP, 0) == TOP and curve.price(TOP, 1) == 0
    with ape.reverts(curve.TauIsZero):
        admin.deploy(project.LinearCurve, admin, 0)
    with ape.reverts(curve.ZeroAddress):
        admin.deploy(project.LinearCurve, "0x" + "00" * 20, TAU)


def test_linear_bad_file_reverts(linear, admin, alice):
    with ape.reverts(linear.TauIsZero):
        linear.file(b32("tau"), 0, sender=admin)
    with ape.reverts(linear.UnknownParameter):
        linear.file(b32("cut"), 1, sender=admin)
    with ape.reverts(linear.AccessControlUnauthorizedAccount):
        linear.file(b32("tau"), 60, sender=alice)
    assert linear.tau() == TAU


# --- StairstepExponentialCurve --------------------------------------------------------------------------------


def test_stairstep_step_boundaries(stairstep):
    assert (stairstep.cut(), stairstep.step()) == (CUT, STEP)
    assert stairstep.price(TOP, 0) == TOP
    assert stairstep.price(TOP, STEP - 1) == TOP  # holds still within a step
    assert stairstep.price(TOP, STEP) == TOP * 99 // 100
    assert stairstep.price(TOP, 2 * STEP - 1) == TOP * 99 // 100
    ten = stairstep.price(TOP, 10 * STEP)
    assert ten == stairstep_down(TOP, 10 * STEP, STEP, CUT)
    getcontext().prec = 80
    exact = int(Decimal(TOP) * Decimal("0.99") ** 10)  # floor of the exact value
    assert exact - 1 <= ten <= exact  # rounding down in the power costs at most one unit here


def test_stairstep_long_auction_is_cheap_and_falls(stairstep, admin):
    ages = [10 * YEAR, 100 * YEAR, 2**64, 2**128, UINT256_MAX]
    prices = [stairstep.price(TOP, a) for a in ages]
    assert prices[0] == 0  # 0.99^(10 years / 90 s) is far below one unit
    assert all(b <= a for a, b in zip(prices, prices[1:]))
    for a in ages:
        assert stairstep.price.estimate_gas_cost(TOP, a, sender=admin) < GAS_CAP
    # Worst case for the loop: cut == RAY (never falls) and step == 1, so all 256 rounds run.
    stairstep.file(b32("cut"), RAY, sender=admin)
    stairstep.file(b32("step"), 1, sender=admin)
    assert stairstep.price(TOP, UINT256_MAX) == TOP
    assert stairstep.price.estimate_gas_cost(TOP, 100 * YEAR, sender=admin) < GAS_CAP
    assert stairstep.price.estimate_gas_cost(TOP, UINT256_MAX, sender=admin) < GAS_CAP_ANY
    # A factor one unit below one: ten years of one-second steps still return, and no higher than top.
    stairstep.file(b32("cut"), RAY - 1, sender=admin)
    long_run = stairstep.price(TOP, 10 * YEAR)
    assert long_run == stairstep_down(TOP, 10 * YEAR, 1, RAY - 1) and long_run < TOP


def test_stairstep_file_sets_and_emits(stairstep, admin):
    tx = stairstep.file(b32("cut"), RAY // 2, sender=admin)
    assert stairstep.ParameterSet(what=b32("cut"), data=RAY // 2) in tx.events
    tx = stairstep.file(b32("step"), 10, sender=admin)
    assert stairstep.ParameterSet(what=b32("step"), data=10) in tx.events
    assert stairstep.price(TOP, 25) == TOP // 4


def test_stairstep_bad_parameters_revert(project, stairstep, admin, alice):
    with ape.reverts(stairstep.CutIsZero):
        stairstep.file(b32("cut"), 0, sender=admin)
    with ape.reverts(stairstep.CutAboveOne):
        stairstep.file(b32("cut"), RAY + 1, sender=admin)
    with ape.reverts(stairstep.StepIsZero):
        stairstep.file(b32("step"), 0, sender=admin)
    with ape.reverts(stairstep.UnknownParameter):
        stairstep.file(b32("tau"), 60, sender=admin)
    with ape.reverts(stairstep.AccessControlUnauthorizedAccount):
        stairstep.file(b32("cut"), RAY // 2, sender=alice)
    with ape.reverts(stairstep.AccessControlUnauthorizedAccount):
        stairstep.file(b32("step"), 1, sender=alice)
    assert (stairstep.cut(), stairstep.step()) == (CUT, STEP)
    with ape.reverts(stairstep.CutIsZero):
        admin.deploy(project.StairstepExponentialCurve, admin, 0, STEP)
    with ape.reverts(stairstep.CutAboveOne):
        admin.deploy(project.StairstepExponentialCurve, admin, RAY + 1, STEP)
    with ape.reverts(stairstep.StepIsZero):
        admin.deploy(project.StairstepExponentialCurve, admin, CUT, 0)


# --- both curves ----------------------------------------------------------------------------------------------


def test_curves_are_non_increasing(linear, stairstep):
    ages = sorted({0, 1, 2, 59, 89, 90, 91, 179, 180, 1_799, 1_800, 3_599, 3_600, 3_601, 9_000, 86_400, YEAR})
    for curve in (linear, stairstep):
        prices = [curve.price(TOP, a) for a in ages]
        assert prices[0] == TOP
        assert all(0 <= b <= a for a, b in zip(prices, prices[1:])), prices


def test_models_reject_bad_parameters():
    with pytest.raises(TauIsZero):
        LinearCurveModel(tau=0)
    with pytest.raises(CutIsZero):
        StairstepExponentialCurveModel(cut=0, step=1)
    with pytest.raises(CutAboveOne):
        StairstepExponentialCurveModel(cut=RAY + 1, step=1)
    with pytest.raises(StepIsZero):
        StairstepExponentialCurveModel(cut=RAY, step=0)


@settings(max_examples=500, deadline=None)
@given(x=st.integers(0, RAY), n=st.integers(0, 2**40))
def test_model_rpow_is_non_increasing_in_n(x, n):
    """Pure Python: rounding down at every product never lets x^(n+1) exceed x^n (x <= RAY)."""
    assert rpow_down(x, n + 1) <= rpow_down(x, n) <= RAY


tops = st.one_of(st.integers(0, 10**30), st.integers(0, UINT256_MAX))
ages = st.one_of(st.integers(0, 2 * YEAR), st.integers(0, UINT256_MAX))


@settings(max_examples=int(os.environ.get("BACKSTOP_PROPERTY_EXAMPLES", "40")), deadline=None)
@given(tau=st.integers(1, YEAR), top=tops, elapsed=ages)
def test_linear_matches_model(linear, admin, tau, top, elapsed):
    linear.file(b32("tau"), tau, sender=admin)
    model = LinearCurveModel(tau=tau)
    assert linear.price(top, elapsed) == model.price(top, elapsed)
    assert linear.price(top, elapsed + 1 if elapsed < UINT256_MAX else elapsed) <= model.price(top, elapsed)


@settings(max_examples=int(os.environ.get("BACKSTOP_PROPERTY_EXAMPLES", "40")), deadline=None)
@given(
    cut=st.one_of(st.integers(1, RAY), st.integers(RAY - 10**24, RAY)),
    step=st.integers(1, 86_400),
    top=tops,
    elapsed=ages,
)
def test_stairstep_matches_model(stairstep, admin, cut, step, top, elapsed):
    stairstep.file(b32("cut"), cut, sender=admin)
    stairstep.file(b32("step"), step, sender=admin)
    model = StairstepExponentialCurveModel(cut=cut, step=step)
    got = stairstep.price(top, elapsed)
    assert got == model.price(top, elapsed)
    assert got <= top
    later = min(elapsed + step, UINT256_MAX)
    assert stairstep.price(top, later) == model.price(top, later) <= got
