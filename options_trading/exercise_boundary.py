"""American puts by spectral collocation of the early-exercise boundary: premium and Greeks.

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
exact spot derivatives of the premium integral (plus the European ones). It does depend on σ, r
and q: their derivatives of the premium integral (vega, rho, dividend rho) add to those taken
under the integral the boundary's own, which solve the boundary equation differentiated, one
nodes × nodes linear system per contract (:func:`_boundary_sensitivity`). That costs about half
as much as the premium, where bumping each parameter and solving again would cost it twice over,
and there is no difference of two collocations to carry their convergence errors.

Puts only, with r > 0 and q >= 0: the single-boundary case. Calls are puts by McDonald-Schroder
symmetry, C(S, K, r, q) = P(K, S, q, r); the caller maps them and leaves the rest to its tree.
"""

from dataclasses import dataclass, replace
from functools import cache

import numpy as np
from scipy.special import ndtr

_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)
# Contracts valued together. A block's largest arrays (3 × 512 × 24 doubles) stay in a 2 MiB L2
# cache, and below the sizes at which glibc's allocator gives freed memory back to the system
# only to page-fault it in again for the next array: the 2,000-contract chain in one block took
# 7,100 page faults and 46 ms of CPU a valuation, in blocks of 500 none and 32 ms.
_BLOCK_CONTRACTS = 512


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
    the boundary (the premium is then K - S, delta -1 and gamma 0). With ``parameter_greeks``,
    the derivatives per unit of volatility (``vega``), of the rate (``rho``) and of the yield
    (``dividend_rho``), 0 where exercised now; otherwise None."""

    price: np.ndarray
    delta: np.ndarray
    gamma: np.ndarray
    exercised_now: np.ndarray
    vega: np.ndarray | None = None
    rho: np.ndarray | None = None
    dividend_rho: np.ndarray | None = None


def american_put(
    spot, strike, rate, dividend_yield, volatility, time, *, parameter_greeks: bool = False
) -> PutValuation:
    """Value American puts given as flat float arrays of one length, with rate > 0, yield >= 0,
    volatility > 0 and time > 0; with ``parameter_greeks``, their vega, rho and dividend rho too."""
    s, k, r, q, vol, t = (np.asarray(a, dtype=float) for a in (spot, strike, rate, dividend_yield, volatility, time))
    high_carry = np.abs(r - q) * np.sqrt(t) >= vol
    premium, premium_delta, premium_gamma = (np.empty(s.size) for _ in range(3))
    premium_sensitivity = np.empty((3, s.size)) if parameter_greeks else None
    exercised_now = np.empty(s.size, dtype=bool)
    for scheme, members in ((DEFAULT_SCHEME, ~high_carry), (HIGH_CARRY_SCHEME, high_carry)):
        members = np.flatnonzero(members)
        block_count = -(-members.size // _BLOCK_CONTRACTS)  # 0 when no contract takes this scheme
        for rows in np.array_split(members, block_count) if block_count else ():
            terms = tuple(a[rows] for a in (s, k, r, q, vol, t))
            log_cap, h, boundary_sensitivity = _boundary(*terms[1:], scheme, sensitivity=parameter_greeks)
            exercised_now[rows] = np.log(terms[0]) <= log_cap - np.sqrt(np.maximum(h[:, -1], 0.0))
            premium[rows], premium_delta[rows], premium_gamma[rows], sensitivity = _premium(
                log_cap, h, *terms, scheme, boundary_sensitivity
            )
            if parameter_greeks:
                premium_sensitivity[:, rows] = sensitivity

    total_vol = vol * np.sqrt(t)
    d1 = (np.log(s / k) + (r - q) * t) / total_vol + 0.5 * total_vol
    dividend_discount = np.exp(-q * t)
    spot_probability = ndtr(-d1)
    strike_probability = ndtr(total_vol - d1)
    rate_discount = np.exp(-r * t)
    spot_density = dividend_discount * np.exp(-0.5 * d1 * d1) * _INV_SQRT_2PI
    european = k * rate_discount * strike_probability - s * dividend_discount * spot_probability
    european_delta = -dividend_discount * spot_probability
    european_gamma = spot_density / (s * total_vol)

    intrinsic = k - s
    valuation = PutValuation(
        price=np.where(exercised_now, intrinsic, np.maximum(np.maximum(european, 0.0) + premium, intrinsic)),
        delta=np.where(exercised_now, -1.0, european_delta + premium_delta),
        gamma=np.where(exercised_now, 0.0, european_gamma + premium_gamma),
        exercised_now=exercised_now,
    )
    if not parameter_greeks:
        return valuation
    european_sensitivity = (
        s * spot_density * np.sqrt(t),
        -k * t * rate_discount * strike_probability,
        s * t * dividend_discount * spot_probability,
    )
    vega, rho, dividend_rho = (
        np.where(exercised_now, 0.0, european_part + premium_part)
        for european_part, premium_part in zip(european_sensitivity, premium_sensitivity)
    )
    return replace(valuation, vega=vega, rho=rho, dividend_rho=dividend_rho)


def _boundary(k, r, q, vol, t, scheme, *, sensitivity=False):
    """ln X per contract and H = ln(B/X)² at the Chebyshev nodes in √τ, (contracts, nodes + 1),
    node 0 at expiry (τ = 0, where H = 0) and the last at τ = T; with ``sensitivity``, the
    derivatives of √H in σ, r and q at the nodes (:func:`_boundary_sensitivity`), else None."""
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
    rate_exp, yield_exp = np.exp(r3 * u), np.exp(q3 * u)
    # dm/√m = 2√τ·cos θ dθ: the 1/√m of the FP-A kernels is absorbed.
    kernel_weight = weights * 2.0 * np.sqrt(tau3) * cos_t * _INV_SQRT_2PI / vol3
    rate_kernel = r3 * kernel_weight * rate_exp
    yield_kernel = q3 * kernel_weight * yield_exp
    integral_weight = weights * 2.0 * tau3 * sin_t * cos_t
    rate_growth, yield_growth = integral_weight * rate_exp, integral_weight * yield_exp
    yield_weight = q3 * yield_growth
    rate_weight = r3 * rate_growth
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
    if not sensitivity:
        return log_cap[:, 0], h, None
    quadrature = _BoundaryQuadrature(
        onto_points=onto_points, u=u, m=root_m * root_m, m_vol=m_vol, inv_m_vol=inv_m_vol, drift=drift,
        rate_kernel=rate_kernel, yield_kernel=yield_kernel, rate_growth=rate_growth, yield_growth=yield_growth,
    )
    return log_cap[:, 0], h, _boundary_sensitivity(k, r, q, vol, tau, log_cap, h, quadrature)


@dataclass(frozen=True)
class _BoundaryQuadrature:
    """The boundary integrals' points for every contract and node, (contracts, nodes, points):
    u the time left at the point, m = τ - u, and the integrands' factors that do not depend on
    the boundary."""

    onto_points: np.ndarray
    u: np.ndarray
    m: np.ndarray
    m_vol: np.ndarray
    """σ√m"""
    inv_m_vol: np.ndarray
    drift: np.ndarray
    """(r - q)·√m/σ + σ√m/2, the part of d+ not from the boundary"""
    rate_kernel: np.ndarray
    """r·e^(ru)·dm/(σ√(2πm)), each point's share of an integral of r·e^(ru)·n(d)/(σ√m)"""
    yield_kernel: np.ndarray
    rate_growth: np.ndarray
    """e^(ru)·dm, each point's share of an integral of e^(ru)·N(d)"""
    yield_growth: np.ndarray


def _premium(log_cap, h, s, k, r, q, vol, t, scheme, boundary_sensitivity=None):
    """Early-exercise premium over the European value, with its first two spot derivatives, and,
    given the boundary's sensitivity (:func:`_boundary_sensitivity`), its derivatives in σ, r and q
    (3, contracts); else None for those.

    Differentiating under the integral, with a = q - r·K/B (B·e^(-rt)·n(d-) = S·e^(-qt)·n(d+)):
    ∂/∂S = ∫ e^(-qt)·[-q·N(-d+) + a·n(d+)/(σ√t)] dt and
    ∂²/∂S² = ∫ e^(-qt)·n(d+)/(S·σ√t)·[q - a·d+/(σ√t)] dt.
    A parameter p moves the integrand directly and through ln B, which enters d± as -ln B/(σ√t):
    ∂/∂p = ∫ [∂(r·K·e^(-rt))/∂p·N(-d-) - ∂(q·S·e^(-qt))/∂p·N(-d+)
              - r·K·e^(-rt)·n(d-)·∂d-/∂p + q·S·e^(-qt)·n(d+)·∂d+/∂p] dt.
    """
    theta, weights = _angle_rule(scheme.premium_points)
    cos_t, sin_t = np.cos(theta), np.sin(theta)
    onto_points = _interpolation_matrix(scheme.nodes, tuple(2.0 * cos_t - 1.0))
    angle_weight = weights * 2.0 * sin_t * cos_t  # dt = 2T·sin θ·cos θ dθ
    expiry = t
    s, k, r, q, vol, t = (a[:, None] for a in (s, k, r, q, vol, t))
    h_points = h @ onto_points
    log_boundary = log_cap[:, None] - np.sqrt(np.maximum(h_points, 0.0))
    elapsed = t * sin_t**2
    total_vol = vol * np.sqrt(t) * sin_t
    d_plus = (np.log(s) - log_boundary + (r - q) * elapsed) / total_vol + 0.5 * total_vol
    d_minus = d_plus - total_vol
    dividend_discount = np.exp(-q * elapsed)
    rate_discount = np.exp(-r * elapsed)
    out_plus, out_minus = ndtr(-d_plus), ndtr(-d_minus)
    integrand = r * k * rate_discount * out_minus - q * s * dividend_discount * out_plus
    density = dividend_discount * np.exp(-0.5 * d_plus * d_plus) * _INV_SQRT_2PI / total_vol
    strike_over_boundary = k * np.exp(-log_boundary)
    slope = q - r * strike_over_boundary
    delta = -q * dividend_discount * out_plus + slope * density
    gamma = density / s * (q - slope * d_plus / total_vol)
    premium = expiry * (integrand @ angle_weight)
    sensitivity = None
    if boundary_sensitivity is not None:
        # y = ln(X/B) at the points, from its node values through the interpolation of y²
        y_points = np.sqrt(np.maximum(h_points, 0.0))
        moved_h = (np.sqrt(np.maximum(h, 0.0)) * boundary_sensitivity).reshape(-1, h.shape[1]) @ onto_points
        with np.errstate(divide="ignore", invalid="ignore"):
            moved_y = np.where(y_points > 0, moved_h.reshape(3, *h_points.shape) / y_points, 0.0)
        # ∂d±/∂p for p = σ, r, q: at a fixed boundary, plus -∂(ln B)/∂p/(σ√t) from its shift
        log_boundary_move = (_log_cap_sensitivity(r[:, 0], q[:, 0])[:, :, None] - moved_y) / total_vol
        carry_move = np.sqrt(elapsed) / vol
        spot_density = s * density * total_vol  # S·e^(-qt)·n(d+), and r·K·e^(-rt)·n(d-) = r·(K/B)·that
        yield_density, rate_density = q * spot_density, r * strike_over_boundary * spot_density
        integrand_slope = (rate_density - yield_density) * log_boundary_move
        integrand_slope[0] += rate_density * d_plus / vol - yield_density * d_minus / vol
        integrand_slope[1] += (yield_density - rate_density) * carry_move
        integrand_slope[1] += k * rate_discount * (1.0 - r * elapsed) * out_minus
        integrand_slope[2] += (rate_density - yield_density) * carry_move
        integrand_slope[2] -= s * dividend_discount * (1.0 - q * elapsed) * out_plus
        sensitivity = np.where(premium > 0.0, expiry * (integrand_slope @ angle_weight), 0.0)
    return (
        np.maximum(premium, 0.0),
        expiry * (delta @ angle_weight),
        expiry * (gamma @ angle_weight),
        sensitivity,
    )


def _log_cap_sensitivity(r, q):
    """Derivatives of ln X = ln(K·min(1, r/q)) in σ, r and q: (3, contracts)."""
    below = r < q
    with np.errstate(divide="ignore"):
        return np.stack([np.zeros_like(r), np.where(below, 1.0 / r, 0.0), np.where(below, -1.0 / q, 0.0)])


def _boundary_sensitivity(k, r, q, vol, tau, log_cap, h, quadrature):
    """Derivatives of y = √H = ln(X/B) at the nodes in σ, r and q: (3, contracts, nodes + 1), zero
    at node 0 (expiry, where B = X whatever the parameters). ``k`` to ``vol`` and ``log_cap`` are
    columns (contracts, 1), ``tau`` the node times (contracts, nodes).

    The boundary solves F = ln B - ln K + (r - q)·τ - ln N + ln D = 0 with the paper's FP-B
    N = N(d-(τ, B/K)) + r·∫ e^(ru)·N(d-(τ - u, B(τ)/B(u))) du and D = N(d+(τ, B/K)) +
    q·∫ e^(qu)·N(d+(τ - u, B(τ)/B(u))) du, as it solves the FP-A form the default scheme iterates:
    both hold at the boundary, and FP-B's integrands are the smoother to differentiate. By the
    implicit function theorem (∂F/∂y)·dy = -∂F/∂p, a system of nodes × nodes per contract with
    three right-hand sides. This is the derivative at the converged boundary, so unlike a
    difference of two collocations it carries no part of either's convergence error.
    """
    contracts, nodes = h.shape
    n = nodes - 1
    root_h = np.sqrt(np.maximum(h, 0.0))
    y = root_h[:, 1:]
    y_u = np.sqrt(np.maximum(h @ quadrature.onto_points, 0.0)).reshape(quadrature.u.shape)
    d_plus = (y_u - y[:, :, None]) * quadrature.inv_m_vol + quadrature.drift
    d_minus = d_plus - quadrature.m_vol
    cdf_plus, cdf_minus = ndtr(d_plus), ndtr(d_minus)
    # r·e^(ru)·n(d-)/(σ√m) and q·e^(qu)·n(d+)/(σ√m) times dm: ∂/∂y of the integrands of N and D
    rate_density = quadrature.rate_kernel * np.exp(-0.5 * d_minus * d_minus)
    yield_density = quadrature.yield_kernel * np.exp(-0.5 * d_plus * d_plus)

    total_vol = vol * np.sqrt(tau)
    d1 = (log_cap - y - np.log(k) + (r - q) * tau) / total_vol + 0.5 * total_vol
    d2 = d1 - total_vol
    r3, q3, m = r[:, :, None], q[:, :, None], quadrature.m
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        numerator = ndtr(d2) + r * np.einsum("ckl,ckl->ck", quadrature.rate_growth, cdf_minus)
        denominator = ndtr(d1) + q * np.einsum("ckl,ckl->ck", quadrature.yield_growth, cdf_plus)
        numerator_density = np.exp(-0.5 * d2 * d2) * _INV_SQRT_2PI / numerator
        denominator_density = np.exp(-0.5 * d1 * d1) * _INV_SQRT_2PI / denominator
        # F moves with its own node's y outside the integrals, and with y(u) - y inside them.
        outside = (numerator_density - denominator_density) / total_vol
        coupling = yield_density / denominator[:, :, None] - rate_density / numerator[:, :, None]
        # y(u) = √(Σ_j M_j·y_j²), so ∂y(u)/∂y_j = M_j·y_j/y(u)
        coupling_over_y = np.where(y_u > 0, coupling / y_u, 0.0)
        # Σ_l coupling[k, l]·M[j, (k, l)], node k by node k
        onto_nodes = quadrature.onto_points[1:].reshape(n, n, -1).transpose(1, 2, 0)
        jacobian = np.matmul(coupling_over_y.transpose(1, 0, 2), onto_nodes).transpose(1, 0, 2) * y[:, None, :]
        jacobian[:, np.arange(n), np.arange(n)] += outside - 1.0 - coupling.sum(axis=2)

        # ∂F/∂p at fixed y, for p = σ, r, q (ln X moves with r and q where r < q)
        source = _log_cap_sensitivity(r[:, 0], q[:, 0])[:, :, None] * (1.0 - outside)
        source[1] += tau
        source[2] -= tau
        source[0] += numerator_density * d1 / vol - denominator_density * d2 / vol
        source[0] += (
            np.einsum("ckl,ckl->ck", rate_density, d_plus * np.sqrt(m)) / numerator
            - np.einsum("ckl,ckl->ck", yield_density, d_minus * np.sqrt(m)) / denominator
        )
        root_tau = np.sqrt(tau) / vol
        rate_pull = numerator_density * root_tau + np.einsum("ckl,ckl->ck", rate_density, m) / numerator
        yield_pull = denominator_density * root_tau + np.einsum("ckl,ckl->ck", yield_density, m) / denominator
        rate_growth_slope = np.einsum("ckl,ckl->ck", quadrature.rate_growth * (1.0 + r3 * quadrature.u), cdf_minus)
        yield_growth_slope = np.einsum("ckl,ckl->ck", quadrature.yield_growth * (1.0 + q3 * quadrature.u), cdf_plus)
        source[1] += yield_pull - rate_pull - rate_growth_slope / numerator
        source[2] += rate_pull - yield_pull + yield_growth_slope / denominator
        # A boundary at the floor (N and D both underflowed, _boundary) does not move; its
        # system, all infinities and NaNs, would make the batched solve refuse every contract.
        stuck = ~(np.isfinite(jacobian).all(axis=(1, 2)) & np.isfinite(source).all(axis=(0, 2)))
        jacobian[stuck] = np.eye(n)
        source[:, stuck] = 0.0
        slope = np.linalg.solve(jacobian, -source.transpose(1, 2, 0))
    sensitivity = np.zeros((3, contracts, nodes))
    sensitivity[:, :, 1:] = slope.transpose(2, 0, 1)
    return sensitivity


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
