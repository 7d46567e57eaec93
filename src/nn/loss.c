/*
 * loss.c - training losses: binary cross-entropy with logits (ranking) and
 * sampled softmax with in-batch negatives (two-tower retrieval).
 * Losses are accumulated in double; gradients are written in float.
 */
#include <junco/nn.h>

#include <math.h>

double jc_nn_bce_logits(size_t n, const float *z, const float *y, const float *w, float scale,
                        float *dz)
{
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1.0;
        /* -[y log s(z) + (1-y) log(1 - s(z))] = softplus(z) - y z */
        sum += wi * (jc_nn_softplus(z[i]) - (double)y[i] * z[i]);
        if (dz)
            dz[i] = scale * (float)wi * (jc_nn_sigmoid(z[i]) - y[i]);
    }
    return sum;
}

double jc_nn_softmax_inbatch(size_t n, const float *S, const float *is_query, const float *logq,
                             float temperature, float scale, float *dS)
{
    double sum = 0.0;
    float it = 1.0f / temperature;
    for (size_t i = 0; i < n; i++) {
        const float *s = S + i * n;
        float *d = dS + i * n;
        if (!is_query[i]) {
            for (size_t j = 0; j < n; j++)
                d[j] = 0.0f;
            continue;
        }
        double mx = -INFINITY;
        for (size_t j = 0; j < n; j++) {
            double v = s[j] * it - (logq ? logq[j] : 0.0f);
            if (v > mx)
                mx = v;
        }
        double z = 0.0;
        for (size_t j = 0; j < n; j++)
            z += exp(s[j] * it - (logq ? logq[j] : 0.0f) - mx);
        double lz = log(z) + mx;
        sum += lz - (s[i] * it - (logq ? logq[i] : 0.0f));
        for (size_t j = 0; j < n; j++) {
            double p = exp(s[j] * it - (logq ? logq[j] : 0.0f) - lz);
            d[j] = (float)(scale * (p - (i == j ? 1.0 : 0.0)) * it);
        }
    }
    return sum;
}
