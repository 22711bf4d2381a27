"""American puts by spectral collocation of the early-exercise boundary: premium, delta, gamma.

The method of Andersen, Lake and Offengelder ("High-performance American option pricing",
Journal of Computational Finance 20(1), 2016), the one behind QuantLib's QdFpAmericanEngine.

An American put is worth its European value plus an early-exercise premium, an integral over its
exercise boundary B(τ) (τ the time left to expiry; the put is exercised where the spot is at or
below B):

    V(S) = v(S) + ∫_0^T [r·K·e^(-r·t)·N(-d-(t, S/B(T-t))) - q·S·e^(-q·t)·N(-d+(t, S/B(T-t)))] dt

with d±(t, z) = (ln z + (r - q)·t)/(σ√t) ± σ√t/2. The boundary solves B(τ) = K·e^(-(r-q)τ)·N/D,
N and D being integrals of B over [0, τ] (the paper's "FP-A" form, its equations 27-28). It is a
smooth function of √τ, so it is held as a Chebyshev interpolant in √τ of H = ln(B/X)², where
X = B(0+) = K·min(1, r/q), on a few nodes. The nodes start at the QD+ approximation (Li 2010),
solved by Halley's method, and are refined by a Jacobi-Newton step and plain fixed-point steps.

Every integral is Gauss-Legendre in an angle θ: the boundary integrals over [0, τ] put the
boundary at u = τ·cos²θ, τ - u = τ·sin²θ from it, and the premium integral puts it at
τ = T·cos²θ, t = T·sin²θ from now. Both integrands are smooth in θ although they have square-root
behaviour at both ends of their intervals.

Those quadrature points fall at the same places of the unit interval for every contract, so the
interpolation of the boundary onto them is one fixed matrix, and a chain is priced as arrays of
contracts × nodes × points. The boundary does not depend on the spot, so delta and gamma are the
exact spot derivatives of the premium integral (plus the European ones).

Puts only, with r > 0 and q >= 0: the single-boundary case. Calls are puts by McDonald-Schroder
symmetry, C(S, K, r, q) = P(K, S, q, r); the caller maps them and leaves the rest to its tree.
"""

from dataclasses import dataclass
from functools import cache

import numpy as np
from scipy.special import ndtr

_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)


@dataclass(frozen=True)
class CollocationScheme:
    """Sizes of the collocation."""

    nodes: int
    """Chebyshev intervals in √τ: the boundary is solved at this many nodes besides expiry's."""
    newton_steps: int
    fixed_point_steps: int
    boundary_points: int
    """Gauss-Legendre points of each boundary integral."""
    premium_points: int
    """Gauss-Legendre points of the premium integral."""
    differentiated: bool
    """Solve the paper's FP-A equation (the boundary condition differentiated in the spot) rather
    than FP-B (the condition itself)."""


DEFAULT_SCHEME = CollocationScheme(
    nodes=8, newton_steps=1, fixed_point_steps=2, boundary_points=6, premium_points=24, differentiated=True
)
"""FP-A, for contracts with |r - q|·√T/σ < 1. Within $0.0001 of QuantLib's converged price
(QdFp, high-precision scheme) on 3,600 random contracts on a $100 underlying (strikes 50%-200%
of spot, a day to three years, volatility 5%-150%, rates and yields 0-10%, some equal; worst
$0.00005). Nodes matter most: at six the worst is $0.0002. FP-A converges in far fewer steps
than FP-B (its worst here after these three is $0.0012), but where the carry is large against
the volatility its fixed-point map stops contracting (errors of dollars at |r - q|·√T/σ of 1 to
3), so those contracts take :data:`HIGH_CARRY_SCHEME`."""

HIGH_CARRY_SCHEME = CollocationScheme(
    nodes=8, newton_steps=1, fixed_point_steps=6, boundary_points=8, premium_points=24, differentiated=False
)
"""FP-B, with more steps: within $0.0001 of QuantLib's converged price on 800 random contracts with
volatility 2%-20%, 30 days to three years, rates and yields 0-15%, whichever |r - q|·√T/σ."""


@dataclass(frozen=True)
class PutValuation:
    """Premium, delta and gamma of American puts; ``exercised_now`` where the spot is at or below
    the boundary (the premium is then K - S, delta -1 and gamma 0)."""

    price: np.ndarray
    delta: np.ndarray
    gamma: np.ndarray
    exercised_now: np.ndarray


def american_put(spot, strike, rate, dividend_yield, volatility, time) -> PutValuation:
    """Value American puts given as flat float arrays of one length, with rate > 0, yield >= 0,
    volatility > 0 and time > 0."""
    s, k, r, q, vol, t = (np.asarray(a, dtype=float) for a in (spot, strike, rate, dividend_yield, volatility, time))
    high_carry = np.abs(r - q) * np.sqrt(t) >= vol
    premium, premium_delta, premium_gamma = (np.empty(s.size) for _ in range(3))
    exercised_now = np.empty(s.size, dtype=bool)
    for scheme, members in ((DEFAULT_SCHEME, ~high_carry), (HIGH_CARRY_SCHEME, high_carry)):
        if members.any():
            terms = tuple(a[members] for a in (s, k, r, q, vol, t))
            log_cap, h = _boundary(*terms[1:], scheme)
            exercised_now[members] = np.log(terms[0]) <= log_cap - np.sqrt(np.maximum(h[:, -1], 0.0))
            premium[members], premium_delta[members], premium_gamma[members] = _premium(log_cap, h, *terms, scheme)

    total_vol = vol * np.sqrt(t)
    d1 = (np.log(s / k) + (r - q) * t) / total_vol + 0.5 * total_vol
    dividend_discount = np.exp(-q * t)
    spot_probability = ndtr(-d1)
    european = k * np.exp(-r * t) * ndtr(total_vol - d1) - s * dividend_discount * spot_probability
    european_delta = -dividend_discount * spot_probability
    european_gamma = dividend_discount * np.exp(-0.5 * d1 * d1) * _INV_SQRT_2PI / (s * total_vol)

    intrinsic = k - s
    return PutValuation(
        price=np.where(exercised_now, intrinsic, np.maximum(np.maximum(european, 0.0) + premium, intrinsic)),
        delta=np.where(exercised_now, -1.0, european_delta + premium_delta),
        gamma=np.where(exercised_now, 0.0, european_gamma + premium_gamma),
        exercised_now=exercised_now,
    )


def _boundary(k, r, q, vol, t, scheme):
    """ln X per contract and H = ln(B/X)² at the Chebyshev nodes in √τ, (contracts, nodes + 1),
    node 0 at expiry (τ = 0, where H = 0) and the last at τ = T."""
    n = scheme.nodes
    z = _chebyshev_nodes(n)
    k, r, q, vol, t = (a[:, None] for a in (k, r, q, vol, t))
    tau = t * (0.5 * (1.0 + z[1:])) ** 2  # (C, n)
    cap = k * np.minimum(1.0, r / np.where(q > 0, q, np.finfo(float).tiny))
    log_cap = np.log(cap)
    h = np.zeros((k.shape[0], n + 1))
    h[:, 1:] = np.log(_qd_plus_boundary(k, r, q, vol, tau, cap) / cap) ** 2

    # Node τ_k, angle θ_j: the boundary at u = τ_k·cos²θ_j, elapsed time m = τ_k·sin²θ_j. In the
    # Chebyshev variable, u sits at (1 + z_k)·cos θ_j - 1 for every contract.
    theta, weights = _angle_rule(scheme.boundary_points)
    cos_t, sin_t = np.cos(theta), np.sin(theta)
    onto_points = _interpolation_matrix(n, tuple(((1.0 + z[1:, None]) * cos_t - 1.0).ravel()))
    tau3, vol3, r3, q3 = tau[:, :, None], vol[:, :, None], r[:, :, None], q[:, :, None]
    u = tau3 * cos_t**2
    root_m = np.sqrt(tau3) * sin_t
    inv_m_vol = 1.0 / (vol3 * root_m)
    drift = (r3 - q3) * root_m / vol3 + 0.5 * vol3 * root_m
    m_vol = vol3 * root_m
    # dm/√m = 2√τ·cos θ dθ: the 1/√m of the FP-A kernels is absorbed.
    kernel_weight = weights * 2.0 * np.sqrt(tau3) * cos_t * _INV_SQRT_2PI / vol3
    rate_kernel = r3 * kernel_weight * np.exp(r3 * u)
    yield_kernel = q3 * kernel_weight * np.exp(q3 * u)
    integral_weight = weights * 2.0 * tau3 * sin_t * cos_t
    yield_weight = q3 * integral_weight * np.exp(q3 * u)
    rate_weight = r3 * integral_weight * np.exp(r3 * u)
    differentiated = scheme.differentiated
    total_vol = vol * np.sqrt(tau)
    carry = (r - q) * tau / total_vol + 0.5 * total_vol
    forward_strike = k * np.exp(-(r - q) * tau)
    floor = 1e-12 * cap

    def step(h, newton):
        root_h = np.sqrt(np.maximum(h, 0.0))
        b = np.exp(log_cap - root_h[:, 1:])
        root_h_u = np.sqrt(np.maximum(h @ onto_points, 0.0)).reshape(u.shape)
        d_plus = (root_h_u - root_h[:, 1:, None]) * inv_m_vol + drift
        d_minus = d_plus - m_vol
        d1 = np.log(b / k) / total_vol + carry
        d2 = d1 - total_vol
        density1 = np.exp(-0.5 * d1 * d1) * _INV_SQRT_2PI
        density2 = np.exp(-0.5 * d2 * d2) * _INV_SQRT_2PI
        if differentiated:
            numerator = density2 / total_vol + np.einsum("cnl,cnl->cn", rate_kernel, np.exp(-0.5 * d_minus * d_minus))
            denominator = (
                density1 / total_vol
                + ndtr(d1)
                + np.einsum("cnl,cnl->cn", yield_kernel, np.exp(-0.5 * d_plus * d_plus))
                + np.einsum("cnl,cnl->cn", yield_weight, ndtr(d_plus))
            )
        else:
            numerator = ndtr(d2) + np.einsum("cnl,cnl->cn", rate_weight, ndtr(d_minus))
            denominator = ndtr(d1) + np.einsum("cnl,cnl->cn", yield_weight, ndtr(d_plus))
        with np.errstate(divide="ignore", invalid="ignore"):
            f = forward_strike * numerator / denominator
            if newton:
                # The Jacobi-Newton step of ALO §4.3: derivatives of the terms outside the integrals.
                if differentiated:
                    scale = 1.0 / (b * total_vol * total_vol)
                    numerator_slope = -density2 * d2 * scale
                    denominator_slope = (total_vol - d1) * density1 * scale
                else:
                    numerator_slope = density2 / (b * total_vol)
                    denominator_slope = density1 / (b * total_vol)
                slope = forward_strike * (numerator_slope - denominator_slope * numerator / denominator) / denominator
                f = b - (f - b) / (slope - 1.0)
        # A boundary at the floor is so far from the money that both N and D underflow to 0
        # (r too small for early exercise to be worth anything): it stays at the floor.
        f = np.clip(np.where(np.isnan(f), floor, f), floor, cap)
        solved = np.zeros_like(h)
        solved[:, 1:] = np.log(f / cap) ** 2
        return solved

    for _ in range(scheme.newton_steps):
        h = step(h, True)
    for _ in range(scheme.fixed_point_steps):
        h = step(h, False)
    return log_cap[:, 0], h


def _premium(log_cap, h, s, k, r, q, vol, t, scheme):
    """Early-exercise premium over the European value, with its first two spot derivatives.

    Differentiating under the integral, with a = q - r·K/B (B·e^(-rt)·n(d-) = S·e^(-qt)·n(d+)):
    ∂/∂S = ∫ e^(-qt)·[-q·N(-d+) + a·n(d+)/(σ√t)] dt and
    ∂²/∂S² = ∫ e^(-qt)·n(d+)/(S·σ√t)·[q - a·d+/(σ√t)] dt.
    """
    theta, weights = _angle_rule(scheme.premium_points)
    cos_t, sin_t = np.cos(theta), np.sin(theta)
    onto_points = _interpolation_matrix(scheme.nodes, tuple(2.0 * cos_t - 1.0))
    s, k, r, q, vol, t = (a[:, None] for a in (s, k, r, q, vol, t))
    log_boundary = log_cap[:, None] - np.sqrt(np.maximum(h @ onto_points, 0.0))
    elapsed = t * sin_t**2
    total_vol = vol * np.sqrt(t) * sin_t
    d_plus = (np.log(s) - log_boundary + (r - q) * elapsed) / total_vol + 0.5 * total_vol
    d_minus = d_plus - total_vol
    dividend_discount = np.exp(-q * elapsed)
    out_plus = ndtr(-d_plus)
    weight = weights * 2.0 * t * sin_t * cos_t  # dt = 2T·sin θ·cos θ dθ
    premium = r * k * np.exp(-r * elapsed) * ndtr(-d_minus) - q * s * dividend_discount * out_plus
    density = dividend_discount * np.exp(-0.5 * d_plus * d_plus) * _INV_SQRT_2PI / total_vol
    slope = q - r * k * np.exp(-log_boundary)
    delta = -q * dividend_discount * out_plus + slope * density
    gamma = density / s * (q - slope * d_plus / total_vol)
    return (
        np.maximum(np.sum(premium * weight, axis=1), 0.0),
        np.sum(delta * weight, axis=1),
        np.sum(gamma * weight, axis=1),
    )


def _qd_plus_boundary(k, r, q, vol, tau, cap):
    """The QD+ approximation of the boundary at times τ (Li 2010; ALO §5.3), by Halley's method
    from X, each element until its step is below 1e-9·X."""
    shape = tau.shape
    k, r, q, vol, tau, cap = (np.broadcast_to(a, shape).ravel() for a in (k, r, q, vol, tau, cap))
    variance = vol * vol
    dr, dq = np.exp(-r * tau), np.exp(-q * tau)
    # 1 - e^(-rτ), which keeps its digits (and stays off zero) for the smallest rates
    discounting = -np.expm1(-r * tau)
    omega = 2.0 * (r - q) / variance
    root = np.sqrt((omega - 1.0) ** 2 + 8.0 * r / (variance * discounting))
    lam = 0.5 * (-(omega - 1.0) - root)
    alpha = 2.0 * dr * r / (variance * (2.0 * lam + omega - 1.0))
    # α·λ' with λ' = 2r/(σ²(1 - e^(-rτ))²·root), so that r/(1 - e^(-rτ)) is never 0 · ∞
    alpha_lam_prime = alpha * 2.0 * (r / discounting) / (variance * discounting * root)
    beta = alpha / discounting + alpha_lam_prime / (2.0 * lam + omega - 1.0) - lam
    v = vol * np.sqrt(tau)
    boundary = cap.copy()
    active = np.arange(boundary.size)
    for _ in range(30):
        if active.size == 0:
            break
        x, kk, rr, qq, vv, tt, drr, dqq, al, be, var, c = (
            a[active] for a in (boundary, k, r, q, v, tau, dr, dq, alpha, beta, variance, cap)
        )
        dp = np.log(x * dqq / (kk * drr)) / vv + 0.5 * vv
        dm = dp - vv
        n_dp, n_dm = ndtr(-dp), ndtr(-dm)
        phi_dp = np.exp(-0.5 * dp * dp) * _INV_SQRT_2PI
        npv = drr * kk * n_dm - x * dqq * n_dp
        theta = rr * kk * drr * n_dm - qq * x * dqq * n_dp - var * x / (2.0 * vv) * dqq * phi_dp
        charm = -dqq * (phi_dp * ((rr - qq) / vv - dm / (2.0 * tt)) + qq * n_dp)
        f = (1.0 - dqq * n_dp) * x - be * (kk - x - npv) + al * theta / (drr * rr)
        f1 = 1.0 - dqq * n_dp + dqq / vv * phi_dp + be * (1.0 - dqq * n_dp) + al / (rr * drr) * charm
        gamma = phi_dp * dqq / (vv * x)
        colour = gamma * (qq + (rr - qq) * dp / vv + (1.0 - dp * dm) / (2.0 * tt))
        f2 = dqq * (phi_dp / (x * vv) - phi_dp * dp / (x * vv * vv)) + be * gamma + al / (rr * drr) * colour
        step = f / f1 / (1.0 - 0.5 * f * f2 / (f1 * f1))
        new = np.clip(x - step, 1e-6 * c, c)
        boundary[active] = new
        active = active[~(np.abs(new - x) <= 1e-9 * c)]
    return boundary.reshape(shape)


@cache
def _chebyshev_nodes(n: int) -> np.ndarray:
    """Chebyshev points of the second kind on [-1, 1], ascending: z_0 = -1 (expiry), z_n = 1."""
    return -np.cos(np.pi * np.arange(n + 1) / n)


@cache
def _angle_rule(points: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre points and weights on [0, π/2]."""
    x, w = np.polynomial.legendre.leggauss(points)
    return 0.25 * np.pi * (1.0 + x), 0.25 * np.pi * w


@cache
def _interpolation_matrix(n: int, points: tuple[float, ...]) -> np.ndarray:
    """Barycentric interpolation from the n + 1 Chebyshev nodes onto ``points``: a contiguous
    (n + 1, points) matrix, for node values (contracts, n + 1) @ matrix. (Multiplying by a
    transposed view instead is some fifty times slower at these sizes.)"""
    z = _chebyshev_nodes(n)
    weights = (-1.0) ** np.arange(n + 1)
    weights[[0, -1]] *= 0.5
    difference = np.array(points)[:, None] - z
    exact = difference == 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = weights / difference
        matrix = terms / terms.sum(axis=1, keepdims=True)
    hit = exact.any(axis=1)
    matrix[hit] = exact[hit].astype(float)
    return np.ascontiguousarray(matrix.T)
