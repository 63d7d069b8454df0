"""Compiled float64 kernels of the structure module's plans: the batch covariance and correlation, the costs between
coordinates, the warm-started Sinkhorn iterations, the implicit-function gradient of the plans, and the two
compositions one training step calls, :func:`structure_forward` and :func:`structure_backward`.

They act on matrices of a few coordinates (K + 1 rows, K the largest k_m), where NumPy spends its time in the
overhead of each call rather than in arithmetic: the same computations as ~150 NumPy calls took 0.5–1.5 ms of a
3–10 ms training step at batch 128, compiled they take a few microseconds each (benchmarks/RESULTS.md, session 14).
Their linear algebra is written out as loops (:func:`solve`, :func:`matmul`) rather than calling BLAS / LAPACK,
whose calls evicted more of a training step's caches than their arithmetic is worth (session 16).
The math and the conventions (padding, dustbin, the ridge of the linear solves) are those of the documented
functions in :mod:`mmcrl.models.wasserstein` that call these; the tests check them against finite differences and
POT. Compiled by numba on first use and cached on disk next to this file (``cache=True``), so a process after the
first loads them in a fraction of a second.
"""

from __future__ import annotations

import numba
import numpy as np

compiled = numba.njit(cache=True, nogil=True)

NO_COST, CORRELATION, SQUARED, PARTIAL = 0, 1, 2, 3  # the covariance costs (``COST_CODES`` names them)
COST_CODES = {None: NO_COST, "correlation": CORRELATION, "squared": SQUARED, "partial": PARTIAL}
_SQUARED_FLOOR = 1e-6  # added to the squared cost's denominator σ_i² + σ_j²


@compiled
def solve(matrix: np.ndarray, right: np.ndarray) -> np.ndarray:
    """X with A X = B (A n × n, B n × m) by Gaussian elimination with partial pivoting, as LAPACK's gesv (see the
    module docstring for why a loop)."""
    n, m = right.shape
    system, solution = matrix.copy(), right.copy()
    for k in range(n):
        pivot = k
        for i in range(k + 1, n):
            if abs(system[i, k]) > abs(system[pivot, k]):
                pivot = i
        if pivot != k:
            for j in range(n):
                system[k, j], system[pivot, j] = system[pivot, j], system[k, j]
            for j in range(m):
                solution[k, j], solution[pivot, j] = solution[pivot, j], solution[k, j]
        for i in range(k + 1, n):
            factor = system[i, k] / system[k, k]
            if factor != 0.0:
                for j in range(k + 1, n):
                    system[i, j] -= factor * system[k, j]
                for j in range(m):
                    solution[i, j] -= factor * solution[k, j]
    for k in range(n - 1, -1, -1):
        for j in range(m):
            total = solution[k, j]
            for i in range(k + 1, n):
                total -= system[k, i] * solution[i, j]
            solution[k, j] = total / system[k, k]
    return solution


@compiled
def matmul(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """L R as a loop (see the module docstring)."""
    rows, inner, columns = left.shape[0], left.shape[1], right.shape[1]
    product = np.zeros((rows, columns))
    for i in range(rows):
        for k in range(inner):
            value = left[i, k]
            for j in range(columns):
                product[i, j] += value * right[k, j]
    return product


@compiled
def cross_blocks(matrix: np.ndarray, shapes: np.ndarray, offsets: np.ndarray, size: int) -> np.ndarray:
    """The P × K × K cross blocks M[a's coordinates, b's coordinates] of a T × T matrix, zero-padded (pair p's
    k_a × k_b block starts at row ``offsets[p, 0]``, column ``offsets[p, 1]``)."""
    count = shapes.shape[0]
    blocks = np.zeros((count, size, size))
    for p in range(count):
        for i in range(shapes[p, 0]):
            for j in range(shapes[p, 1]):
                blocks[p, i, j] = matrix[offsets[p, 0] + i, offsets[p, 1] + j]
    return blocks


@compiled
def centred_covariance(stacked: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(X̄, Σ) of a B × T batch X: the columns centred (float64) and their covariance X̄ᵀ X̄ / B."""
    batch, total = stacked.shape
    mean, centred = np.zeros(total), np.empty((batch, total))
    for i in range(batch):
        for j in range(total):
            mean[j] += stacked[i, j]
    mean /= batch
    for i in range(batch):
        for j in range(total):
            centred[i, j] = stacked[i, j] - mean[j]
    covariance = np.zeros((total, total))
    for k in range(batch):
        for i in range(total):
            value = centred[k, i]
            for j in range(i, total):
                covariance[i, j] += value * centred[k, j]
    for i in range(total):
        for j in range(i, total):
            covariance[i, j] /= batch
            covariance[j, i] = covariance[i, j]
    return centred, covariance


@compiled
def correlation(covariance: np.ndarray, scale_floor: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ρ, s, √diag Σ) with ρ_ij = Σ_ij / (s_i s_j), s_i = √Σ_ii + δ (δ = ``scale_floor``)."""
    total = covariance.shape[0]
    root = np.empty(total)
    for k in range(total):
        root[k] = np.sqrt(max(covariance[k, k], 0.0))
    scale = root + scale_floor
    rho = np.empty((total, total))
    for i in range(total):
        for j in range(total):
            rho[i, j] = covariance[i, j] / (scale[i] * scale[j])
    return rho, scale, root


@compiled
def correlation_backward(grad: np.ndarray, rho: np.ndarray, scale: np.ndarray, root: np.ndarray) -> np.ndarray:
    """∂L/∂Σ from G = ∂L/∂ρ: G_ij / (s_i s_j), plus ∂L/∂s_k / (2 √Σ_kk) on the diagonal (0 where Σ_kk = 0),
    ∂L/∂s_k = −(Σ_j G_kj ρ_kj + Σ_i G_ik ρ_ik) / s_k."""
    total = grad.shape[0]
    grad_covariance = np.empty((total, total))
    for i in range(total):
        for j in range(total):
            grad_covariance[i, j] = grad[i, j] / (scale[i] * scale[j])
    for k in range(total):
        weighted = 0.0
        for j in range(total):
            weighted += grad[k, j] * rho[k, j] + grad[j, k] * rho[j, k]
        if root[k] > 0:
            grad_covariance[k, k] += -weighted / scale[k] / (2.0 * root[k])
    return grad_covariance


@compiled
def partial_costs(
    rho: np.ndarray, shapes: np.ndarray, slots: np.ndarray, size: int, ridge: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(P × K × K costs 1 − |ρ_ij·rest|, Ω, √diag Ω, Π = −Ω / (d dᵀ)) of every pair: R is the 2K-square correlation
    matrix of slots ``slots[p]`` (T: an independent unit), Ω = (R + λ I)⁻¹, the cost reads the cross block of Π."""
    count, width, total = shapes.shape[0], 2 * size, rho.shape[0]
    precision, partial = np.empty((count, width, width)), np.empty((count, width, width))
    root, costs = np.empty((count, width)), np.zeros((count, size, size))
    matrix = np.empty((width, width))
    for p in range(count):
        for x in range(width):
            for y in range(width):
                sx, sy = slots[p, x], slots[p, y]
                if sx < total and sy < total:
                    matrix[x, y] = rho[sx, sy]
                else:
                    matrix[x, y] = 1.0 if sx == total and sy == total else 0.0
            matrix[x, x] += ridge
        precision[p] = solve(matrix, np.eye(width))
        for x in range(width):
            root[p, x] = np.sqrt(precision[p, x, x])
        for x in range(width):
            for y in range(width):
                partial[p, x, y] = -precision[p, x, y] / (root[p, x] * root[p, y])
        for i in range(shapes[p, 0]):
            for j in range(shapes[p, 1]):
                costs[p, i, j] = 1.0 - abs(partial[p, i, size + j])
    return costs, precision, root, partial


@compiled
def partial_costs_backward(
    grad: np.ndarray,
    shapes: np.ndarray,
    slots: np.ndarray,
    precision: np.ndarray,
    root: np.ndarray,
    partial: np.ndarray,
    total: int,
) -> np.ndarray:
    """∂L/∂ρ (T × T) from G = ∂L/∂C of :func:`partial_costs`: H = ∂L/∂Π = −sign Π ∘ G on the cross block,
    ∂L/∂Ω = −H / (d dᵀ) plus ∂L/∂d_k / (2 d_k) on the diagonal, ∂L/∂d_k = −(Σ_j H_kj Π_kj + Σ_i H_ik Π_ik) / d_k,
    ∂L/∂R = −Ω (∂L/∂Ω) Ω, added into the entries of ρ the slots read."""
    count, size = shapes.shape[0], grad.shape[1]
    width = 2 * size
    grad_extended = np.zeros((total + 1, total + 1))
    grad_partial, grad_precision = np.empty((width, width)), np.empty((width, width))
    for p in range(count):
        grad_partial[:] = 0.0
        for i in range(shapes[p, 0]):
            for j in range(shapes[p, 1]):
                grad_partial[i, size + j] = -np.sign(partial[p, i, size + j]) * grad[p, i, j]
        for x in range(width):
            for y in range(width):
                grad_precision[x, y] = -grad_partial[x, y] / (root[p, x] * root[p, y])
        for k in range(width):
            weighted = 0.0
            for y in range(width):
                weighted += grad_partial[k, y] * partial[p, k, y] + grad_partial[y, k] * partial[p, y, k]
            grad_precision[k, k] += -weighted / root[p, k] / (2.0 * root[p, k])
        grad_matrix = -matmul(matmul(precision[p], grad_precision), precision[p])
        for x in range(width):
            for y in range(width):
                grad_extended[slots[p, x], slots[p, y]] += grad_matrix[x, y]
    return np.ascontiguousarray(grad_extended[:total, :total])


@compiled
def sinkhorn(
    cost: np.ndarray,
    mu: np.ndarray,
    nu: np.ndarray,
    support: np.ndarray,
    dustbin: np.ndarray,
    dustbin_cost: float,
    epsilon: float,
    iterations: int,
    potentials: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(P × n × n plans, new potentials) of the warm-started entropic dustbin problems (n = K + 1): the kernel
    exp((f_i + g_j − C̃_ij)/ε) on the support (1 off it), ``iterations`` updates u = μ / (K v), v = ν / (Kᵀ u) from
    v = 1 on the columns of positive mass, P = diag(u) K diag(v), f += ε log u, g += ε log v (0 off the support)."""
    count, n = dustbin.shape[0], dustbin.shape[1]
    plans, new_potentials = np.zeros((count, n, n)), np.zeros((count, 2, n))
    kernel, u, v = np.empty((n, n)), np.empty(n), np.empty(n)
    for p in range(count):
        for i in range(n):
            for j in range(n):
                if support[p, i, j]:
                    padded = dustbin[p, i, j] * (dustbin_cost / 2.0)
                    if i < n - 1 and j < n - 1:
                        padded += cost[p, i, j]
                    kernel[i, j] = np.exp((potentials[p, 0, i] + potentials[p, 1, j] - padded) / epsilon)
                else:
                    kernel[i, j] = 1.0
        for j in range(n):
            v[j] = 1.0 if nu[p, j] > 0 else 0.0
        for _ in range(iterations):
            for i in range(n):
                total = 0.0
                for j in range(n):
                    total += kernel[i, j] * v[j]
                u[i] = mu[p, i] / total
            for j in range(n):
                total = 0.0
                for i in range(n):
                    total += kernel[i, j] * u[i]
                v[j] = nu[p, j] / total
        for i in range(n):
            for j in range(n):
                plans[p, i, j] = u[i] * kernel[i, j] * v[j]
            if mu[p, i] > 0:
                new_potentials[p, 0, i] = potentials[p, 0, i] + epsilon * np.log(u[i])
        for j in range(n):
            if nu[p, j] > 0:
                new_potentials[p, 1, j] = potentials[p, 1, j] + epsilon * np.log(v[j])
    return plans, new_potentials


@compiled
def sinkhorn_backward(plans: np.ndarray, grad_plans: np.ndarray, epsilon: float, ridge: float) -> np.ndarray:
    """∂L/∂C̃ = −P ∘ (G − α 1ᵀ − 1 βᵀ) / ε, (α, β) solving the 2n × 2n system of the plan's row and column sums
    (rows Σ_j P_ij (α_i + β_j) = Σ_j P_ij G_ij, columns alike) with ``ridge`` on the diagonal."""
    count, n = plans.shape[0], plans.shape[1]
    grad_cost = np.empty((count, n, n))
    system, right = np.empty((2 * n, 2 * n)), np.empty(2 * n)
    for p in range(count):
        system[:] = 0.0
        right[:] = 0.0
        for i in range(n):
            for j in range(n):
                mass = plans[p, i, j]
                system[i, n + j] = mass
                system[n + j, i] = mass
                system[i, i] += mass
                system[n + j, n + j] += mass
                right[i] += mass * grad_plans[p, i, j]
                right[n + j] += mass * grad_plans[p, i, j]
        for k in range(2 * n):
            system[k, k] += ridge
        solution = solve(system, right.reshape(2 * n, 1))[:, 0]
        for i in range(n):
            for j in range(n):
                grad_cost[p, i, j] = -plans[p, i, j] * (grad_plans[p, i, j] - solution[i] - solution[n + j]) / epsilon
    return grad_cost


@compiled
def covariance_costs(
    covariance: np.ndarray,
    code: int,
    shapes: np.ndarray,
    offsets: np.ndarray,
    slots: np.ndarray,
    size: int,
    ridge: float,
    scale_floor: float,
) -> tuple:
    """(P × K × K costs, the state their backward pass needs: (ρ, s, √diag Σ, Ω, √diag Ω, Π)) for the cost
    ``code``: 1 − |ρ_ij| (CORRELATION), 1 − 2 |Σ_ij| / (σ_i² + σ_j² + 10⁻⁶) (SQUARED), :func:`partial_costs`
    (PARTIAL; Ω, √diag Ω, Π are its intermediates, empty for the other costs) or zeros (NO_COST); 0 on padding."""
    rho, scale, root = correlation(covariance, scale_floor)
    count = shapes.shape[0]
    if code == PARTIAL:
        costs, precision, partial_root, partial = partial_costs(rho, shapes, slots, size, ridge)
        return costs, (rho, scale, root, precision, partial_root, partial)
    costs = np.zeros((count, size, size))
    for p in range(count):
        for i in range(shapes[p, 0]):
            for j in range(shapes[p, 1]):
                a, b = offsets[p, 0] + i, offsets[p, 1] + j
                if code == CORRELATION:
                    costs[p, i, j] = 1.0 - abs(rho[a, b])
                elif code == SQUARED:
                    denominator = covariance[a, a] + covariance[b, b] + _SQUARED_FLOOR
                    costs[p, i, j] = 1.0 - 2.0 * abs(covariance[a, b]) / denominator
    return costs, (rho, scale, root, np.zeros((0, 0, 0)), np.zeros((0, 0)), np.zeros((0, 0, 0)))


@compiled
def covariance_costs_backward(
    grad: np.ndarray,
    code: int,
    covariance: np.ndarray,
    state: tuple,
    shapes: np.ndarray,
    offsets: np.ndarray,
    slots: np.ndarray,
) -> np.ndarray:
    """∂L/∂Σ (T × T) from G = ∂L/∂C of :func:`covariance_costs` and its ``state`` (the derivative of |x| taken as
    sign x):
    CORRELATION −sign ρ_ij G_ij into ρ's entries, then :func:`correlation_backward`; SQUARED, with D = σ_i² + σ_j²:
    −2 sign Σ_ij G_ij / D into Σ_ij and 2 |Σ_ij| G_ij / D² into Σ_ii and Σ_jj; PARTIAL
    :func:`partial_costs_backward`, then :func:`correlation_backward`."""
    rho, scale, root, precision, partial_root, partial = state
    total = covariance.shape[0]
    if code == NO_COST:
        return np.zeros((total, total))
    if code == PARTIAL:
        grad_rho = partial_costs_backward(grad, shapes, slots, precision, partial_root, partial, total)
        return correlation_backward(grad_rho, rho, scale, root)
    grad_matrix = np.zeros((total, total))
    for p in range(shapes.shape[0]):
        for i in range(shapes[p, 0]):
            for j in range(shapes[p, 1]):
                a, b = offsets[p, 0] + i, offsets[p, 1] + j
                if code == CORRELATION:
                    grad_matrix[a, b] += -np.sign(rho[a, b]) * grad[p, i, j]
                else:
                    denominator = covariance[a, a] + covariance[b, b] + _SQUARED_FLOOR
                    grad_matrix[a, b] += -2.0 * np.sign(covariance[a, b]) * grad[p, i, j] / denominator
                    grad_denominator = 2.0 * abs(covariance[a, b]) * grad[p, i, j] / denominator**2
                    grad_matrix[a, a] += grad_denominator
                    grad_matrix[b, b] += grad_denominator
    if code == CORRELATION:
        return correlation_backward(grad_matrix, rho, scale, root)
    return grad_matrix


@compiled
def structure_forward(
    stacked: np.ndarray,
    given_cost: np.ndarray,
    code: int,
    shapes: np.ndarray,
    offsets: np.ndarray,
    slots: np.ndarray,
    ridge: float,
    scale_floor: float,
    row_mass: np.ndarray,
    column_mass: np.ndarray,
    support: np.ndarray,
    dustbin: np.ndarray,
    dustbin_cost: float,
    epsilon: float,
    iterations: int,
    potentials: np.ndarray,
    running_correlation: np.ndarray,
    momentum: float,
) -> tuple:
    """One training step's plans from the B × T encodings: :func:`centred_covariance`, :func:`covariance_costs`
    (plus ``given_cost`` when it is not empty), :func:`sinkhorn`, and the signs s = sign ρ of every cross block (0
    without coordinates). Returns (X̄, Σ, the costs' state (ρ first), plans, new potentials, blocks, masses) with
    what the training step reads in the dtype of ``stacked`` (converted here rather than by one NumPy call per
    array): ``blocks`` 2 × P × K × K, the real parts W of the plans and the signed plans W ∘ s; ``masses``
    2 × P × K, their row sums W 1 and column sums Wᵀ 1. The T × T ``running_correlation`` moves towards ρ in
    place, by ``momentum`` (0: unchanged; an empty array when there are no coordinates)."""
    size = dustbin.shape[1] - 1
    centred, covariance = centred_covariance(stacked)
    costs, state = covariance_costs(covariance, code, shapes, offsets, slots, size, ridge, scale_floor)
    if given_cost.shape[0] > 0:
        costs += given_cost
    plans, new_potentials = sinkhorn(
        costs, row_mass, column_mass, support, dustbin, dustbin_cost, epsilon, iterations, potentials
    )
    if momentum > 0.0:
        running_correlation += momentum * (state[0] - running_correlation)
    signs = cross_signs(state[0], shapes, offsets, size, stacked.shape[1] > 0)
    weights = plans[:, :size, :size]
    blocks = np.empty((2, *costs.shape), dtype=stacked.dtype)
    blocks[0] = weights
    blocks[1] = weights * signs
    masses = np.empty((2, costs.shape[0], size), dtype=stacked.dtype)
    masses[0] = weights.sum(axis=2)
    masses[1] = weights.sum(axis=1)
    return centred, covariance, state, plans, new_potentials, blocks, masses


@compiled
def cross_signs(rho: np.ndarray, shapes: np.ndarray, offsets: np.ndarray, size: int, any_coordinates: bool):
    """The P × K × K signs of ρ's cross blocks (:func:`cross_blocks`), zeros when there are no coordinates."""
    if not any_coordinates:
        return np.zeros((shapes.shape[0], size, size))
    return np.sign(cross_blocks(rho, shapes, offsets, size))


@compiled
def structure_backward(
    grad_blocks: np.ndarray,
    grad_masses: np.ndarray,
    plans: np.ndarray,
    epsilon: float,
    solve_ridge: float,
    code: int,
    centred: np.ndarray,
    covariance: np.ndarray,
    state: tuple,
    shapes: np.ndarray,
    offsets: np.ndarray,
    slots: np.ndarray,
    starts: np.ndarray,
    grad_encodings: np.ndarray,
) -> np.ndarray:
    """∂L/∂C from the gradients of :func:`structure_forward`'s ``blocks`` and ``masses`` (2 × P × K × K and
    2 × P × K, zero where unused): ∂L/∂W = G_W + s ∘ G_{W∘s} + g_row 1ᵀ + 1 g_columnᵀ on the real block of every
    plan, then :func:`sinkhorn_backward` and :func:`covariance_costs_backward`. ∂L/∂X̄ = X̄ (∂L/∂Σ + ∂L/∂Σᵀ) / B is
    written into ``grad_encodings`` (flat, in the encodings' dtype), modality m's B × k_m block contiguous from
    B · ``starts[m]``, so that each is one array without a copy (nothing is written when it is empty)."""
    count, size = shapes.shape[0], plans.shape[1] - 1
    signs = cross_signs(state[0], shapes, offsets, size, centred.shape[1] > 0)
    grad_plans = np.zeros(plans.shape)
    for p in range(count):
        for i in range(shapes[p, 0]):
            for j in range(shapes[p, 1]):
                grad_plans[p, i, j] = (
                    grad_blocks[0, p, i, j]
                    + signs[p, i, j] * grad_blocks[1, p, i, j]
                    + grad_masses[0, p, i]
                    + grad_masses[1, p, j]
                )
    grad_padded = sinkhorn_backward(plans, grad_plans, epsilon, solve_ridge)
    grad_cost = np.ascontiguousarray(grad_padded[:, :-1, :-1])
    grad_covariance = covariance_costs_backward(grad_cost, code, covariance, state, shapes, offsets, slots)
    if grad_encodings.shape[0] > 0:
        batch = centred.shape[0]
        grad_stacked = matmul(centred, (grad_covariance + grad_covariance.T) / batch)
        for m in range(starts.shape[0] - 1):
            start, dims = starts[m], starts[m + 1] - starts[m]
            for i in range(batch):
                for j in range(dims):
                    grad_encodings[batch * start + i * dims + j] = grad_stacked[i, start + j]
    return grad_cost
