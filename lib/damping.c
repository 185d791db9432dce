/*
 * Flap damping after RFC 2439 ("BGP Route Flap Damping"), applied to
 * routes of a dialer.
 *
 * Every ejection adds a fixed penalty. The penalty decays exponentially:
 *     p(t) = p(t0) * 2^(-(t - t0) / half_life)
 * When it reaches the suppress limit the route is suppressed; once it has
 * decayed below the reuse limit the route may return. The penalty is
 * capped at the ceiling
 *     ceiling = reuse * 2^(max_suppress / half_life)
 * so that a suppressed route decays to reuse within max_suppress however
 * often it flapped. The decay is evaluated lazily from (penalty, at_ns).
 *
 * The library depends on libc alone, so 2^x and log2 are computed here.
 */
#include "internal.h"

/* e^y for |y| <= ln 2 / 2, by its Taylor series (error < 1e-17). */
static double exp_small(double y)
{
    double term = 1.0, sum = 1.0;

    for (int k = 1; k < 20; k++) {
        term *= y / k;
        sum += term;
    }
    return sum;
}

#define FO__LN2 0.693147180559945309417232121458

double fo__exp2(double x)
{
    double result, f;
    long n;

    if (x > 1023.0)
        return 1.7976931348623157e308;
    if (x < -1074.0)
        return 0.0;
    /* x = n + f with f in [-0.5, 0.5]: 2^x = 2^n * e^(f ln 2). */
    n = (long)(x < 0 ? x - 0.5 : x + 0.5);
    f = x - (double)n;
    result = exp_small(f * FO__LN2);
    for (; n > 0; n--)
        result *= 2.0;
    for (; n < 0; n++)
        result *= 0.5;
    return result;
}

double fo__log2(double x)
{
    double z, z2, term, sum;
    int e = 0;

    if (!(x > 0.0))
        return -1074.0;
    /* x = m * 2^e with m in [1/sqrt2, sqrt2) ... */
    while (x >= 1.4142135623730951) {
        x *= 0.5;
        e++;
    }
    while (x < 0.7071067811865476) {
        x *= 2.0;
        e--;
    }
    /* ... and ln m = 2 atanh(z), z = (m - 1) / (m + 1), |z| < 0.172. */
    z = (x - 1.0) / (x + 1.0);
    z2 = z * z;
    term = z;
    sum = 0.0;
    for (int k = 1; k < 40; k += 2) {
        sum += term / k;
        term *= z2;
    }
    return (double)e + 2.0 * sum / FO__LN2;
}

double fo__damp_ceiling(double reuse, uint64_t max_suppress_ns,
                        uint64_t half_life_ns)
{
    return reuse * fo__exp2((double)max_suppress_ns / (double)half_life_ns);
}

double fo__damp_value(const struct fo__damping *d, const struct fo__config *c,
                      uint64_t now)
{
    double halves;

    if (d->penalty <= 0.0 || now <= d->at_ns)
        return d->penalty;
    halves = (double)(now - d->at_ns) / (double)c->damping_half_life_ns;
    return d->penalty * fo__exp2(-halves);
}

bool fo__damp_add(struct fo__damping *d, const struct fo__config *c,
                  uint64_t now)
{
    double p = fo__damp_value(d, c, now) + c->damping_penalty;

    if (p > c->damping_ceiling)
        p = c->damping_ceiling;
    d->penalty = p;
    d->at_ns = now;
    if (!d->suppressed && p >= c->damping_suppress) {
        d->suppressed = true;
        return true;
    }
    return false;
}

bool fo__damp_refresh(struct fo__damping *d, const struct fo__config *c,
                      uint64_t now)
{
    /* Decide by the same instant fo__damp_reuse_at() announces, so a
     * scheduler woken at that instant always sees the change. */
    if (!d->suppressed || now < fo__damp_reuse_at(d, c))
        return false;
    d->penalty = fo__damp_value(d, c, now);
    d->at_ns = now;
    d->suppressed = false;
    return true;
}

uint64_t fo__damp_reuse_at(const struct fo__damping *d,
                           const struct fo__config *c)
{
    double halves, wait;

    if (!d->suppressed)
        return UINT64_MAX;
    if (d->penalty < c->damping_reuse)
        return d->at_ns;
    /* p * 2^(-t/h) < reuse  <=>  t > h * log2(p / reuse). One ns later
     * than the exact root, so the comparison in fo__damp_refresh holds. */
    halves = fo__log2(d->penalty / c->damping_reuse);
    wait = halves * (double)c->damping_half_life_ns + 1.0;
    if (wait >= 1.8e19)
        return UINT64_MAX;
    return fo__add_sat(d->at_ns, (uint64_t)wait);
}
