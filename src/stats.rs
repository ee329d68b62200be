//! Statistics for runs repeated over seeds and for choosing a warm-up.
//!
//! One simulated run gives one figure per measure: a mean latency, a p99, a throughput. Run
//! again with another seed and the figure moves. Parallel sweeps and multi-seed runs repeat a
//! run over independent seeds (replications) and use this module to say how sure a figure is:
//!
//! - [`Estimate`]: the mean of a figure over `n` replications with its two-sided Student-t
//!   confidence interval, `mean +- t(1 - (1 - level) / 2, n - 1) * s / sqrt(n)`. This is the
//!   figure a sweep reports per point; [`Estimate::covers`] checks a known answer (an M/M/1
//!   mean, say) against it, and [`Estimate::differs_from`] says whether two alternatives
//!   differ by more than seed-to-seed noise (Welch's t-test).
//! - [`student_t_quantile`]: the Student-t quantile behind both, for any degrees of freedom
//!   (Welch's are fractional), to about 1e-12 relative.
//! - [`mser5`]: how many leading observations of a run's time series (per-window mean
//!   latencies, say) to discard as warm-up, by the marginal standard error rule on batch
//!   means of 5 (MSER-5, White 1997). It picks the truncation that minimises the standard
//!   error of the remaining mean, and flags a warm-up that is too short: if its answer is more
//!   than the warm-up a scenario uses, the figures still carry the start-up transient.
//!
//! Replications are independent runs, so their figures are independent samples and the
//! t interval is exact for normal figures and close for the rest (means of many requests are
//! close to normal). Observations *within* one run are correlated; do not put them in an
//! [`Estimate`] as if they were replications.
//!
//! ```
//! use microsim::stats::{Estimate, mser5};
//!
//! // Mean latency (ms) of five replications of one scenario.
//! let latency = Estimate::of(&[10.2, 9.8, 10.5, 10.1, 9.9], 0.95);
//! assert!(latency.covers(10.0));
//! println!("{:.2} +- {:.2} ms", latency.mean, latency.half_width);
//!
//! // A run whose first 20 windows are still filling its queues.
//! let windows: Vec<f64> = (0..200).map(|i| if i < 20 { 50.0 } else { 10.0 }).collect();
//! assert_eq!(mser5(&windows), 20);
//! ```

/// A mean over independent replications with its Student-t confidence interval.
///
/// `mean` is the sample mean, `std_dev` the sample standard deviation (divisor `n - 1`) and
/// `half_width` the half width of the two-sided interval at the level given to
/// [`Estimate::of`]: the interval is [`low`](Estimate::low) to [`high`](Estimate::high).
///
/// With fewer than two values the spread cannot be estimated, so the interval is *unknown*:
/// [`is_known`](Estimate::is_known) is false, `half_width` and `std_dev` are `0.0` (not NaN
/// or infinity, which JSON cannot carry), [`covers`](Estimate::covers) and
/// [`differs_from`](Estimate::differs_from) answer false, and with no values at all `mean`
/// is `0.0` too. Read `half_width` only when the interval is known.
///
/// It serializes as `{"mean":..,"half_width":..,"n":..,"std_dev":..}` and reads back equal.
///
/// ```
/// use microsim::stats::Estimate;
///
/// let throughput = Estimate::of(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.95);
/// assert_eq!(throughput.mean, 3.0);
/// assert!((throughput.half_width - 1.963243).abs() < 1e-6);
/// assert!(throughput.covers(1.5) && !throughput.covers(5.0));
///
/// let single = Estimate::of(&[3.0], 0.95);
/// assert!(!single.is_known() && !single.covers(3.0));
/// assert_eq!(single.half_width, 0.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Estimate {
    /// The sample mean of the replications (`0.0` when there are none).
    pub mean: f64,
    /// The half width of the confidence interval (`0.0` when it is unknown, `n < 2`).
    pub half_width: f64,
    /// The number of replications.
    pub n: usize,
    /// The sample standard deviation, divisor `n - 1` (`0.0` when `n < 2`).
    pub std_dev: f64,
}

impl Estimate {
    /// The mean of `values` (one per replication) with a two-sided interval at `level`
    /// (e.g. 0.95): `half_width = t(1 - (1 - level) / 2, n - 1) * s / sqrt(n)`.
    ///
    /// For `n < 2` the interval is unknown (see [`Estimate`]): `half_width` and `std_dev` are
    /// `0.0`. The values should be finite; a NaN or infinity makes every field meaningless.
    ///
    /// # Panics
    ///
    /// If `level` is not strictly between 0 and 1.
    ///
    /// ```
    /// use microsim::stats::Estimate;
    ///
    /// let p99 = Estimate::of(&[41.0, 44.0, 39.5, 42.5], 0.99);
    /// assert_eq!(p99.n, 4);
    /// assert!(p99.low() < 41.75 && 41.75 < p99.high());
    /// ```
    pub fn of(values: &[f64], level: f64) -> Estimate {
        assert!(
            level > 0.0 && level < 1.0,
            "confidence level must be strictly between 0 and 1, got {level}"
        );
        let n = values.len();
        if n == 0 {
            return Estimate {
                mean: 0.0,
                half_width: 0.0,
                n,
                std_dev: 0.0,
            };
        }
        let count = n as f64;
        let mean = values.iter().sum::<f64>() / count;
        if n == 1 {
            return Estimate {
                mean,
                half_width: 0.0,
                n,
                std_dev: 0.0,
            };
        }
        let squares: f64 = values.iter().map(|value| (value - mean).powi(2)).sum();
        let std_dev = (squares / (count - 1.0)).sqrt();
        let t = student_t_quantile(two_sided(level), count - 1.0);
        Estimate {
            mean,
            half_width: t * std_dev / count.sqrt(),
            n,
            std_dev,
        }
    }

    /// Whether the interval is known: at least two replications.
    ///
    /// ```
    /// use microsim::stats::Estimate;
    ///
    /// assert!(!Estimate::of(&[], 0.95).is_known());
    /// assert!(Estimate::of(&[1.0, 2.0], 0.95).is_known());
    /// ```
    pub fn is_known(&self) -> bool {
        self.n >= 2
    }

    /// The low end of the interval, `mean - half_width` (the mean itself when unknown).
    ///
    /// ```
    /// use microsim::stats::Estimate;
    ///
    /// let estimate = Estimate { mean: 10.0, half_width: 0.5, n: 8, std_dev: 0.6 };
    /// assert_eq!(estimate.low(), 9.5);
    /// ```
    pub fn low(&self) -> f64 {
        self.mean - self.half_width
    }

    /// The high end of the interval, `mean + half_width` (the mean itself when unknown).
    ///
    /// ```
    /// use microsim::stats::Estimate;
    ///
    /// let estimate = Estimate { mean: 10.0, half_width: 0.5, n: 8, std_dev: 0.6 };
    /// assert_eq!(estimate.high(), 10.5);
    /// ```
    pub fn high(&self) -> f64 {
        self.mean + self.half_width
    }

    /// Whether `value` is inside [low, high], ends included; false when the interval is
    /// unknown.
    ///
    /// ```
    /// use microsim::stats::Estimate;
    ///
    /// // Mean response time of an M/M/1 queue at rho = 0.5, 1 ms service: exactly 2 ms.
    /// let mean_ms = Estimate::of(&[1.97, 2.04, 2.01, 1.95, 2.06], 0.95);
    /// assert!(mean_ms.covers(2.0));
    /// ```
    pub fn covers(&self, value: f64) -> bool {
        self.is_known() && self.low() <= value && value <= self.high()
    }

    /// Whether two estimates' difference is significant: Welch's t-test at `level`
    /// (two-sided), false when either has `n < 2`.
    ///
    /// The statistic is `(m1 - m2) / sqrt(s1^2 / n1 + s2^2 / n2)` against the t quantile at
    /// the Welch-Satterthwaite degrees of freedom. When neither estimate varies at all
    /// (both standard deviations zero) they differ exactly when their means do.
    ///
    /// The test takes the two sets of replications as independent. Alternatives run on the
    /// same seeds (common random numbers) are positively correlated, which makes this test
    /// conservative: a difference it finds is real, and a paired comparison could find
    /// smaller ones.
    ///
    /// # Panics
    ///
    /// If `level` is not strictly between 0 and 1.
    ///
    /// ```
    /// use microsim::stats::Estimate;
    ///
    /// let one_worker = Estimate::of(&[20.1, 19.4, 21.0, 20.6, 19.9], 0.95);
    /// let two_workers = Estimate::of(&[12.2, 11.8, 12.9, 12.4, 12.0], 0.95);
    /// let two_again = Estimate::of(&[12.5, 11.6, 12.3, 12.8, 12.1], 0.95);
    /// assert!(one_worker.differs_from(&two_workers, 0.95));
    /// assert!(!two_workers.differs_from(&two_again, 0.95));
    /// ```
    pub fn differs_from(&self, other: &Estimate, level: f64) -> bool {
        assert!(
            level > 0.0 && level < 1.0,
            "confidence level must be strictly between 0 and 1, got {level}"
        );
        if !self.is_known() || !other.is_known() {
            return false;
        }
        let (n1, n2) = (self.n as f64, other.n as f64);
        let v1 = self.std_dev * self.std_dev / n1;
        let v2 = other.std_dev * other.std_dev / n2;
        let variance = v1 + v2;
        if variance == 0.0 {
            return self.mean != other.mean;
        }
        let t = (self.mean - other.mean).abs() / variance.sqrt();
        // Welch-Satterthwaite; mathematically between min(n1, n2) - 1 and n1 + n2 - 2, kept
        // there against rounding.
        let dof = variance * variance / (v1 * v1 / (n1 - 1.0) + v2 * v2 / (n2 - 1.0));
        let dof = dof.clamp(n1.min(n2) - 1.0, n1 + n2 - 2.0);
        t > student_t_quantile(two_sided(level), dof)
    }
}

/// The probability of the upper quantile of a two-sided interval at `level`.
fn two_sided(level: f64) -> f64 {
    0.5 + 0.5 * level
}

/// The Student-t quantile `t_{p, dof}`: the `t` with `P(T <= t) = p` for `T` Student-t with
/// `dof` degrees of freedom (p in (0,1), dof >= 1), accurate to 1e-6 relative.
///
/// A two-sided interval at level `L` uses `p = 1 - (1 - L) / 2`: `t_{0.975, n - 1}` for 95%.
/// `dof` need not be a whole number (Welch's test has fractional degrees of freedom) and may
/// be `f64::INFINITY`, which gives the normal quantile. The result is negative for `p < 0.5`
/// (`t_{p} = -t_{1-p}`), and accurate to about 1e-12 relative over the whole of (0, 1)
/// (checked against 40-digit values for dof from 0.5 to 10^8 and p from 1e-300 to 1 - 1e-16;
/// typically 1e-15, at worst 3e-13 in the tails just below 10^5 degrees of freedom).
///
/// It inverts the distribution function, written as a regularized incomplete beta function
/// (a continued fraction, with `libm`'s log-gamma), by safeguarded Newton steps on a log
/// scale; above 10^5 degrees of freedom it uses the Cornish-Fisher expansion about the normal
/// quantile instead (to the fourth order, well below 1e-12 there).
///
/// # Panics
///
/// If `p` is not strictly between 0 and 1, or `dof` is not positive (or is NaN). Degrees of
/// freedom between 0 and 1 are allowed, and the result may be infinite there for `p` very
/// close to 0 or 1.
///
/// ```
/// use microsim::stats::student_t_quantile;
///
/// // The 95% interval of 10 replications: mean +- 2.262157 s / sqrt(10).
/// assert!((student_t_quantile(0.975, 9.0) - 2.262157).abs() < 1e-6);
/// assert_eq!(student_t_quantile(0.5, 3.0), 0.0);
/// assert_eq!(student_t_quantile(0.25, 9.0), -student_t_quantile(0.75, 9.0));
/// assert!((student_t_quantile(0.975, f64::INFINITY) - 1.959964).abs() < 1e-6);
/// ```
pub fn student_t_quantile(p: f64, dof: f64) -> f64 {
    assert!(
        p > 0.0 && p < 1.0,
        "student_t_quantile: p must be strictly between 0 and 1, got {p}"
    );
    assert!(
        dof > 0.0,
        "student_t_quantile: dof must be positive, got {dof}"
    );
    if p == 0.5 {
        return 0.0;
    }
    // The upper-tail probability P(T > |t|), in (0, 0.5): exact, as 1 - p is for p >= 0.5.
    let (tail, sign) = if p < 0.5 { (p, -1.0) } else { (1.0 - p, 1.0) };
    let t = if dof >= LARGE_DOF {
        cornish_fisher(normal_upper_quantile(tail), dof)
    } else {
        t_upper_quantile(tail, dof)
    };
    sign * t
}

/// Above this many degrees of freedom the continued fraction slows (it needs about
/// sqrt(dof) terms) and the Cornish-Fisher expansion is already exact to double precision.
const LARGE_DOF: f64 = 1e5;

/// The `t > 0` with `P(T > t) = tail`, for `0 < tail < 0.5` and `dof < LARGE_DOF`.
///
/// With `x = dof / (dof + t^2)`, `P(|T| > t) = I_x(dof/2, 1/2)` and `P(|T| < t)` is its
/// complement. It solves for `u = ln t` whichever of the two is below one half, on a log
/// scale (so neither is found as a small difference from 1): both are close to straight
/// lines in `u` (powers of `t`), so Newton steps converge in a few iterations, and a bracket
/// turns any step that leaves it into a bisection.
fn t_upper_quantile(tail: f64, dof: f64) -> f64 {
    let a = 0.5 * dof;
    let b = 0.5;
    let ln_beta = ln_beta_half(a);
    let ln_dof = dof.ln();
    // Solve for the two tails when they are small, else for the middle.
    let in_tails = tail < 0.25;
    let target = if in_tails {
        (2.0 * tail).ln()
    } else {
        (1.0 - 2.0 * tail).ln()
    };
    // h(u), increasing in u and zero at the answer, with its derivative.
    let h = |u: f64| -> (f64, f64) {
        // w = ln(t^2 / dof): ln x = -ln(1 + e^w), ln(1 - x) = -ln(1 + e^-w).
        let w = 2.0 * u - ln_dof;
        let (ln_x, ln_y) = (-softplus(w), -softplus(-w));
        let ln_front = a * ln_x + b * ln_y - ln_beta;
        let (ln_tails, ln_middle) = ln_beta_inc(a, b, ln_x, ln_y, ln_front);
        // d I_x / du = -2 x^a (1 - x)^b / B(a, b), with x decreasing in u.
        if in_tails {
            (target - ln_tails, 2.0 * (ln_front - ln_tails).exp())
        } else {
            (ln_middle - target, 2.0 * (ln_front - ln_middle).exp())
        }
    };
    // ln t from the smallest positive double's neighbourhood to past the largest.
    let (mut low, mut high) = (-750.0_f64, 750.0_f64);
    let mut u = cornish_fisher(normal_upper_quantile(tail), dof)
        .ln()
        .clamp(-700.0, 700.0);
    for _ in 0..MAX_SOLVER_STEPS {
        let (value, slope) = h(u);
        if value == 0.0 {
            break;
        }
        if value < 0.0 {
            low = u;
        } else {
            high = u;
        }
        let newton = u - value / slope;
        let next = if newton.is_finite() && low < newton && newton < high {
            newton
        } else {
            0.5 * (low + high)
        };
        let done = (next - u).abs() <= 4.0 * f64::EPSILON * u.abs().max(1.0);
        u = next;
        if done || high - low <= 4.0 * f64::EPSILON * u.abs().max(1.0) {
            break;
        }
    }
    u.exp()
}

/// Enough for bisection over the whole bracket to double precision, with room to spare.
const MAX_SOLVER_STEPS: usize = 200;

/// `ln B(a, 1/2)`. For large `a`, `lgamma(a + 1/2) - lgamma(a)` would cancel (1e-11 relative
/// at `a = 5e4`), so from `a = 20` it uses the asymptotic series of
/// `ln(Gamma(a + 1/2) / Gamma(a)) - ln(a) / 2` (DLMF 5.11.13, Bernoulli polynomials at 1/2),
/// whose first omitted term is below 1e-16 there.
fn ln_beta_half(a: f64) -> f64 {
    const LN_GAMMA_HALF: f64 = 0.572_364_942_924_700_1; // ln sqrt(pi)
    if a < 20.0 {
        return libm::lgamma(a) + LN_GAMMA_HALF - libm::lgamma(a + 0.5);
    }
    let r = 1.0 / a;
    let r2 = r * r;
    let series = r
        * (-1.0 / 8.0
            + r2 * (1.0 / 192.0
                + r2 * (-1.0 / 640.0 + r2 * (17.0 / 14336.0 + r2 * (-31.0 / 18432.0)))));
    LN_GAMMA_HALF - 0.5 * a.ln() - series
}

/// `ln(1 + e^w)` without overflow or loss.
fn softplus(w: f64) -> f64 {
    if w > 0.0 {
        w + (-w).exp().ln_1p()
    } else {
        w.exp().ln_1p()
    }
}

/// `(ln I_x(a, b), ln(1 - I_x(a, b)))` from `ln x`, `ln(1 - x)` and
/// `ln(x^a (1 - x)^b / B(a, b))`, each accurate relative to itself: the continued fraction
/// gives the smaller side, where it converges fast, and the other is its complement.
fn ln_beta_inc(a: f64, b: f64, ln_x: f64, ln_y: f64, ln_front: f64) -> (f64, f64) {
    let x = ln_x.exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        let ln_i = ln_front + (beta_continued_fraction(a, b, x) / a).ln();
        (ln_i, (-ln_i.exp()).ln_1p())
    } else {
        let ln_complement = ln_front + (beta_continued_fraction(b, a, ln_y.exp()) / b).ln();
        ((-ln_complement.exp()).ln_1p(), ln_complement)
    }
}

/// The continued fraction of the incomplete beta function, by the modified Lentz method
/// (Numerical Recipes' `betacf`): `I_x(a, b) = x^a (1 - x)^b / (a B(a, b)) * cf`.
fn beta_continued_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let guard = |value: f64| if value.abs() < TINY { TINY } else { value };
    let (sum, above, below) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 / guard(1.0 - sum * x / above);
    let mut fraction = d;
    for m in 1..=MAX_FRACTION_TERMS {
        let m = m as f64;
        let even = m * (b - m) * x / ((below + 2.0 * m) * (a + 2.0 * m));
        d = 1.0 / guard(1.0 + even * d);
        c = guard(1.0 + even / c);
        fraction *= d * c;
        let odd = -(a + m) * (sum + m) * x / ((a + 2.0 * m) * (above + 2.0 * m));
        d = 1.0 / guard(1.0 + odd * d);
        c = guard(1.0 + odd / c);
        let step = d * c;
        fraction *= step;
        if (step - 1.0).abs() <= f64::EPSILON {
            break;
        }
    }
    fraction
}

/// It needs about sqrt(max(a, b)) terms: a few thousand at `LARGE_DOF`.
const MAX_FRACTION_TERMS: usize = 20_000;

/// The Student-t upper quantile from the normal one, `z`: the Cornish-Fisher expansion in
/// `1 / dof` (Abramowitz and Stegun 26.7.5) to the fourth order. Exact for infinite `dof`.
fn cornish_fisher(z: f64, dof: f64) -> f64 {
    let z2 = z * z;
    let g1 = z * (z2 + 1.0) / 4.0;
    let g2 = z * ((5.0 * z2 + 16.0) * z2 + 3.0) / 96.0;
    let g3 = z * (((3.0 * z2 + 19.0) * z2 + 17.0) * z2 - 15.0) / 384.0;
    let g4 = z * ((((79.0 * z2 + 776.0) * z2 + 1482.0) * z2 - 1920.0) * z2 - 945.0) / 92160.0;
    let e = 1.0 / dof;
    z + e * (g1 + e * (g2 + e * (g3 + e * g4)))
}

/// The `z > 0` with `P(Z > z) = tail` for a standard normal `Z`, `0 < tail <= 0.5`:
/// Acklam's rational approximation (1.2e-9 relative) and two Newton steps on `libm`'s
/// `erfc` (in the tails) or `erf` (in the middle, so a tail near one half loses nothing).
fn normal_upper_quantile(tail: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    if tail >= 0.5 {
        return 0.0;
    }
    let mut z = if tail < 0.024_25 {
        let q = (-2.0 * tail.ln()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else {
        let q = 0.5 - tail;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    };
    let middle = 0.5 - tail;
    for _ in 0..2 {
        let density = (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
        let error = if tail < 0.25 {
            // P(Z > z) - tail, decreasing in z.
            tail - 0.5 * libm::erfc(z / std::f64::consts::SQRT_2)
        } else {
            // P(0 < Z < z) - (0.5 - tail), increasing in z.
            0.5 * libm::erf(z / std::f64::consts::SQRT_2) - middle
        };
        if density > 0.0 {
            z -= error / density;
        }
    }
    z
}

/// MSER-5 (White 1997; the marginal standard error rule on batch means of 5): for a series of
/// observations in time order (e.g. per-window mean latencies), the number of leading
/// observations to discard as warm-up. Batches of 5, d* = argmin over d in [0, b/2] of
/// sum_{i>d} (Y_i - mean_d)^2 / (b-d)^2 on batch means Y; returns d* * 5 (in observations).
///
/// The series is cut into `b = len / 5` batches of 5 consecutive observations (a last partial
/// batch is dropped) and `Y` are their means; `mean_d` is the mean of the batches after the
/// first `d`. The statistic is the squared standard error of that mean (up to a constant), so
/// `d*` is the truncation that leaves the most precise mean: discarding a transient removes a
/// lot of spread, discarding steady-state data only shortens the series. Ties go to the
/// smallest `d`, so a constant series returns 0.
///
/// A series shorter than 10 (fewer than two batches) returns 0. The rule needs a few dozen
/// batches to mean much, and the search stops at half the series: an answer near `len / 2`
/// says the run is too short to have reached steady state, so run longer rather than trust
/// it. The observations should be finite.
///
/// ```
/// use microsim::stats::mser5;
///
/// // 12 windows of a filling queue, then steady state with a little noise.
/// let series: Vec<f64> = (0..300)
///     .map(|i| if i < 12 { 80.0 - 5.0 * i as f64 } else { 10.0 + (i % 3) as f64 })
///     .collect();
/// assert_eq!(mser5(&series), 15); // the first multiple of 5 past the transient
/// assert_eq!(mser5(&[4.0; 100]), 0);
/// assert_eq!(mser5(&[9.0, 1.0, 1.0]), 0);
/// ```
pub fn mser5(series: &[f64]) -> usize {
    const BATCH: usize = 5;
    let batches: Vec<f64> = series
        .chunks_exact(BATCH)
        .map(|batch| batch.iter().sum::<f64>() / BATCH as f64)
        .collect();
    let b = batches.len();
    if b < 2 {
        return 0;
    }
    // The mean and sum of squared deviations of batches[d..] for every d, from the end
    // backwards (Welford's update, stable however long the series).
    let mut mean = 0.0;
    let mut squares = 0.0;
    let mut best = (f64::INFINITY, 0);
    for d in (0..b).rev() {
        let count = (b - d) as f64;
        let delta = batches[d] - mean;
        mean += delta / count;
        squares += delta * (batches[d] - mean);
        if d <= b / 2 {
            let statistic = squares / (count * count);
            // `<=`: going backwards, a tie moves to the smaller d.
            if statistic <= best.0 {
                best = (statistic, d);
            }
        }
    }
    best.1 * BATCH
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;
    use rand_distr::Normal;

    fn close(actual: f64, expected: f64, relative: f64) -> bool {
        (actual - expected).abs() <= relative * expected.abs()
    }

    #[track_caller]
    fn assert_close(actual: f64, expected: f64, relative: f64) {
        assert!(
            close(actual, expected, relative),
            "{actual} is not within {relative:e} relative of {expected} (off by {:e})",
            ((actual - expected) / expected).abs()
        );
    }

    #[test]
    fn t_quantiles_match_the_tables() {
        for (dof, expected) in [
            (1.0, 12.706_205),
            (4.0, 2.776_445),
            (9.0, 2.262_157),
            (29.0, 2.045_230),
            (1000.0, 1.962_339),
        ] {
            let t = student_t_quantile(0.975, dof);
            assert!(
                (t - expected).abs() < 1e-6,
                "t(0.975, {dof}) = {t}, not {expected}"
            );
        }
    }

    /// Reference values computed to 40 digits with mpmath (the root of the regularized
    /// incomplete beta form of the distribution function, at the f64 value of each `p`),
    /// rounded to the nearest f64.
    #[test]
    fn t_quantiles_match_high_precision_values() {
        let table = [
            // (p, dof, t)
            (0.975, 1.0, 12.706_204_736_174_692),
            (0.975, 4.0, 2.776_445_105_197_794_3),
            (0.975, 9.0, 2.262_157_162_798_205),
            (0.975, 29.0, 2.045_229_642_132_704),
            (0.975, 1000.0, 1.962_339_080_826_408),
            (0.995, 0.5, 4_113.964_588_804_174),
            (1e-9, 1.5, -521_946.942_733_437_23),
            (0.9995, 3.0, 12.923_978_636_687_965),
            (0.6, 4.5107, 0.268_714_512_150_425_47),
            (0.99, 58.0, 2.392_377_475_393_680_6),
            (0.499_999_9, 100.0, -2.512_902_580_443_267e-7),
            (0.5 + f64::EPSILON / 2.0, 9.0, 2.861_142_127_272_705_4e-16),
            (1e-20, 10.0, -256.434_699_318_526_2),
            (1e-100, 30.0, -10_810.645_001_143_976),
            (1.0 - f64::EPSILON / 2.0, 29.0, 16.647_003_237_266_65),
            (1e-300, 1e4, -38.356_384_321_004_24),
            (0.95, 1e6, 1.644_855_150_722_040_1),
            (1e-300, 1e6, -37.059_820_872_774_39),
        ];
        for (p, dof, expected) in table {
            assert_close(student_t_quantile(p, dof), expected, 1e-13);
        }
    }

    /// One and two degrees of freedom have closed forms: the Cauchy quantile
    /// `tan(pi (p - 1/2))` and `(2p - 1) / sqrt(2 p (1 - p))`.
    #[test]
    fn t_quantiles_match_closed_forms_across_the_range() {
        let ps = [
            1e-300,
            1e-100,
            1e-20,
            1e-9,
            1e-4,
            0.001,
            0.01,
            0.025,
            0.05,
            0.1,
            0.2,
            0.25,
            0.3,
            0.4,
            0.45,
            0.49,
            0.499_999_9,
            0.5 + 1e-15,
            0.500_000_1,
            0.51,
            0.6,
            0.75,
            0.8,
            0.9,
            0.95,
            0.975,
            0.99,
            0.999,
            0.9999,
            1.0 - 1e-9,
            1.0 - 1e-15,
        ];
        for p in ps {
            // tan(pi (p - 1/2)), with p - 1/2 exact in the middle and as -1 / tan(pi p) (or
            // 1 / tan(pi (1 - p))) in the tails, exact for tiny p.
            let pi = std::f64::consts::PI;
            let cauchy = if (0.25..=0.75).contains(&p) {
                (pi * (p - 0.5)).tan()
            } else if p < 0.5 {
                -1.0 / (pi * p).tan()
            } else {
                1.0 / (pi * (1.0 - p)).tan()
            };
            assert_close(student_t_quantile(p, 1.0), cauchy, 1e-12);
            let two = (2.0 * p - 1.0) / (2.0 * p * (1.0 - p)).sqrt();
            assert_close(student_t_quantile(p, 2.0), two, 1e-12);
        }
    }

    #[test]
    fn t_quantiles_are_antisymmetric_and_increasing() {
        for dof in [1.0, 1.5, 3.0, 17.3, 200.0, 5e4, 2e5, f64::INFINITY] {
            let mut previous = f64::NEG_INFINITY;
            for i in 1..200 {
                let p = f64::from(i) / 200.0;
                let t = student_t_quantile(p, dof);
                assert!(t > previous, "t({p}, {dof}) = {t} is not above {previous}");
                if p > 0.5 {
                    // 1 - p is exact here, so both see the same tail.
                    assert_eq!(t, -student_t_quantile(1.0 - p, dof));
                }
                previous = t;
            }
        }
    }

    #[test]
    fn infinite_dof_gives_the_normal_quantile() {
        for (p, z) in [
            (0.975, 1.959_963_984_540_054),
            (0.995, 2.575_829_303_548_901),
            (0.841_344_746_068_542_9, 1.0),
            (1e-10, -6.361_340_902_404_056),
        ] {
            assert_close(student_t_quantile(p, f64::INFINITY), z, 1e-12);
        }
    }

    #[test]
    fn the_large_dof_expansion_joins_the_exact_inversion() {
        // Either side of LARGE_DOF the two methods agree.
        for p in [1e-12, 0.001, 0.025, 0.3, 0.499, 0.975, 0.999_999] {
            let below = student_t_quantile(p, LARGE_DOF * (1.0 - 1e-12));
            let at = student_t_quantile(p, LARGE_DOF);
            assert_close(below, at, 1e-11);
        }
    }

    #[test]
    #[should_panic(expected = "p must be strictly between 0 and 1")]
    fn t_quantile_rejects_p_of_one() {
        student_t_quantile(1.0, 3.0);
    }

    #[test]
    #[should_panic(expected = "dof must be positive")]
    fn t_quantile_rejects_zero_dof() {
        student_t_quantile(0.9, 0.0);
    }

    #[test]
    fn estimate_of_one_to_five() {
        let estimate = Estimate::of(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.95);
        assert_eq!(estimate.n, 5);
        assert_eq!(estimate.mean, 3.0);
        assert_close(estimate.std_dev, 2.5_f64.sqrt(), 1e-15);
        assert_close(
            estimate.half_width,
            2.776_445_105_197_8 * 2.5_f64.sqrt() / 5_f64.sqrt(),
            1e-12,
        );
        assert!((estimate.half_width - 2.776_445 * 2.5_f64.sqrt() / 5_f64.sqrt()).abs() < 1e-6);
        assert_eq!(estimate.low(), 3.0 - estimate.half_width);
        assert_eq!(estimate.high(), 3.0 + estimate.half_width);
        assert!(estimate.is_known());
        assert!(estimate.covers(estimate.low()) && estimate.covers(estimate.high()));
        assert!(!estimate.covers(estimate.high() + 1e-9));
        assert!(!estimate.covers(f64::NAN));
    }

    #[test]
    fn estimate_of_too_few_values_is_unknown() {
        let none = Estimate::of(&[], 0.95);
        assert_eq!(
            none,
            Estimate {
                mean: 0.0,
                half_width: 0.0,
                n: 0,
                std_dev: 0.0
            }
        );
        let one = Estimate::of(&[7.5], 0.95);
        assert_eq!(
            one,
            Estimate {
                mean: 7.5,
                half_width: 0.0,
                n: 1,
                std_dev: 0.0
            }
        );
        for unknown in [none, one] {
            assert!(!unknown.is_known());
            assert!(!unknown.covers(unknown.mean));
            assert_eq!(
                (unknown.low(), unknown.high()),
                (unknown.mean, unknown.mean)
            );
            let known = Estimate::of(&[1.0, 100.0], 0.95);
            assert!(!unknown.differs_from(&known, 0.95));
            assert!(!known.differs_from(&unknown, 0.95));
        }
    }

    #[test]
    fn estimate_of_constant_values_has_zero_width() {
        let constant = Estimate::of(&[4.0, 4.0, 4.0], 0.95);
        assert_eq!(
            constant,
            Estimate {
                mean: 4.0,
                half_width: 0.0,
                n: 3,
                std_dev: 0.0
            }
        );
        assert!(constant.covers(4.0));
        assert!(!constant.differs_from(&Estimate::of(&[4.0, 4.0], 0.95), 0.95));
        assert!(constant.differs_from(&Estimate::of(&[5.0, 5.0], 0.95), 0.95));
    }

    #[test]
    fn a_higher_level_gives_a_wider_interval() {
        let values = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0];
        let widths: Vec<f64> = [0.5, 0.9, 0.95, 0.99]
            .iter()
            .map(|&level| Estimate::of(&values, level).half_width)
            .collect();
        assert!(
            widths.windows(2).all(|pair| pair[0] < pair[1]),
            "{widths:?}"
        );
    }

    #[test]
    #[should_panic(expected = "confidence level must be strictly between 0 and 1")]
    fn estimate_rejects_a_level_of_one() {
        Estimate::of(&[1.0, 2.0], 1.0);
    }

    #[test]
    fn estimates_round_trip_through_json() {
        for estimate in [
            Estimate::of(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.95),
            Estimate::of(&[0.1, 0.7, 0.3], 0.99),
            Estimate::of(&[2.5], 0.95),
            Estimate::of(&[], 0.95),
        ] {
            let json = serde_json::to_string(&estimate).unwrap();
            let back: Estimate = serde_json::from_str(&json).unwrap();
            assert_eq!(back, estimate, "{json}");
        }
        let json = serde_json::to_string(&Estimate::of(&[2.0, 4.0], 0.95)).unwrap();
        assert!(json.starts_with(r#"{"mean":3.0,"half_width":"#), "{json}");
        assert!(
            json.ends_with(r#","n":2,"std_dev":1.4142135623730951}"#),
            "{json}"
        );
    }

    /// `trials` estimates of `n` draws each from N(mean, sd^2), from a fixed stream.
    fn estimates(label: &str, trials: usize, n: usize, mean: f64, sd: f64) -> Vec<Estimate> {
        let mut rng = crate::random::stream(2024, label);
        let normal = Normal::new(mean, sd).unwrap();
        let mut values = vec![0.0; n];
        (0..trials)
            .map(|_| {
                values
                    .iter_mut()
                    .for_each(|value| *value = rng.sample(normal));
                Estimate::of(&values, 0.95)
            })
            .collect()
    }

    /// The fraction of `trials` that are true.
    fn fraction(trials: impl Iterator<Item = bool>) -> f64 {
        let (hits, count) = trials.fold((0, 0), |(hits, count), hit| {
            (hits + usize::from(hit), count + 1)
        });
        hits as f64 / f64::from(count)
    }

    // A rate over 2,000 independent trials with true probability p has standard deviation
    // sqrt(p (1 - p) / 2000): 0.49% at p = 0.95 (or 0.05). The tolerances below are 3 of
    // them, so a correct implementation fails them with probability about 0.3% per seed, and
    // the seeds are fixed: any failure is a change of behaviour.

    #[test]
    fn ninety_five_percent_intervals_cover_the_true_mean_95_percent_of_the_time() {
        let coverage = fraction(
            estimates("stats/coverage", 2000, 10, 5.0, 2.0)
                .iter()
                .map(|e| e.covers(5.0)),
        );
        assert!((coverage - 0.95).abs() <= 0.015, "coverage {coverage}");
    }

    #[test]
    fn welch_finds_a_difference_between_equal_distributions_5_percent_of_the_time() {
        let first = estimates("stats/welch/first", 2000, 10, 5.0, 2.0);
        let second = estimates("stats/welch/second", 2000, 10, 5.0, 2.0);
        let rate = fraction(
            first
                .iter()
                .zip(&second)
                .map(|(a, b)| a.differs_from(b, 0.95)),
        );
        assert!((rate - 0.05).abs() <= 0.015, "false positive rate {rate}");
    }

    #[test]
    fn welch_finds_a_one_sd_difference_with_30_replications_nearly_always() {
        // Power: the noncentrality is 1 / sqrt(2 / 30) = 3.87 against t(0.975, 58) = 2.00,
        // about 96.7%; sd 0.4% over 2,000 trials, so 95% is more than 4 sd below.
        let low = estimates("stats/power/low", 2000, 30, 5.0, 2.0);
        let high = estimates("stats/power/high", 2000, 30, 7.0, 2.0);
        let rate = fraction(low.iter().zip(&high).map(|(a, b)| a.differs_from(b, 0.95)));
        assert!(rate >= 0.95, "power {rate}");
        assert_eq!(
            rate,
            fraction(high.iter().zip(&low).map(|(a, b)| a.differs_from(b, 0.95)))
        );
    }

    #[test]
    fn welch_handles_unequal_variances_and_sizes() {
        // By hand (t to 40 digits with mpmath): v1 = 4/5 = 0.8, v2 = 1/20 = 0.05,
        // se = sqrt(0.85) = 0.92195, dof = 0.85^2 / (0.8^2 / 4 + 0.05^2 / 19) = 4.51191,
        // t(0.975, 4.51191) = 2.65652, so the critical difference is 2.44919.
        let wide = Estimate {
            mean: 10.0,
            half_width: 0.0,
            n: 5,
            std_dev: 2.0,
        };
        let narrow = |mean| Estimate {
            mean,
            half_width: 0.0,
            n: 20,
            std_dev: 1.0,
        };
        assert!(!wide.differs_from(&narrow(12.44), 0.95));
        assert!(wide.differs_from(&narrow(12.46), 0.95));
        assert!(narrow(7.54).differs_from(&wide, 0.95));
        assert!(!narrow(7.56).differs_from(&wide, 0.95));
    }

    /// `transient` observations at 10, then 1 with a little deterministic noise,
    /// `0.05 sin(1.7 i)`, to 500 observations.
    fn transient_then_steady(transient: usize) -> Vec<f64> {
        (0..500)
            .map(|i| {
                if i < transient {
                    10.0
                } else {
                    1.0 + 0.05 * libm::sin(1.7 * i as f64)
                }
            })
            .collect()
    }

    #[test]
    fn mser5_discards_the_transient() {
        assert_eq!(mser5(&transient_then_steady(50)), 50);
        // Not a multiple of 5: the batch holding its end goes too.
        for transient in 41_usize..=60 {
            let expected = transient.div_ceil(5) * 5;
            assert_eq!(
                mser5(&transient_then_steady(transient)),
                expected,
                "transient {transient}"
            );
        }
    }

    #[test]
    fn mser5_discards_the_transient_under_random_noise() {
        // Noise of sd 0.1 about 1 after 50 observations at 10. The rule may cut a few batches
        // past the transient (any batch mean far enough from the rest), never before it.
        let mut rng = crate::random::stream(2024, "stats/mser5/noisy");
        let normal = Normal::new(1.0, 0.1).unwrap();
        let series: Vec<f64> = (0..500)
            .map(|i| if i < 50 { 10.0 } else { rng.sample(normal) })
            .collect();
        let warmup = mser5(&series);
        assert!((50..=75).contains(&warmup), "warm-up {warmup}");
    }

    #[test]
    fn mser5_of_a_stationary_series_is_small() {
        let mut rng = crate::random::stream(2024, "stats/mser5/stationary");
        let normal = Normal::new(10.0, 1.0).unwrap();
        let series: Vec<f64> = (0..1000).map(|_| rng.sample(normal)).collect();
        let warmup = mser5(&series);
        assert!(
            warmup < series.len() / 10,
            "warm-up {warmup} of {}",
            series.len()
        );
        assert_eq!(mser5(&[3.0; 1000]), 0);
    }

    #[test]
    fn mser5_of_a_short_series_is_zero() {
        assert_eq!(mser5(&[]), 0);
        assert_eq!(mser5(&[5.0]), 0);
        assert_eq!(mser5(&[100.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]), 0);
    }

    #[test]
    fn mser5_matches_a_hand_computation() {
        // Batch means 9, 3, 1, 2, 1, 2 (b = 6, d in 0..=3); a trailing partial batch is
        // ignored. Statistic sum of squares / (b - d)^2:
        //   d = 0: mean 3,    squares 36+0+4+1+4+1 = 46,  46 / 36 = 1.278
        //   d = 1: mean 1.8,  squares 1.44+0.64+0.04+0.64+0.04 = 2.8, 2.8 / 25 = 0.112
        //   d = 2: mean 1.5,  squares 0.25 * 4 = 1,       1 / 16 = 0.0625
        //   d = 3: mean 5/3,  squares 4/9+1/9+1/9 = 2/3,  (2/3) / 9 = 0.0741
        // so d* = 2: 10 observations.
        let series: Vec<f64> = [9.0, 3.0, 1.0, 2.0, 1.0, 2.0]
            .iter()
            .flat_map(|&mean| [mean - 2.0, mean - 1.0, mean, mean + 1.0, mean + 2.0])
            .chain([50.0, 50.0])
            .collect();
        assert_eq!(series.len(), 32);
        assert_eq!(mser5(&series), 10);
    }
}
