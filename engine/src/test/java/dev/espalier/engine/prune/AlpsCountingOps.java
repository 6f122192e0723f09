package dev.espalier.engine.prune;

import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;

/** A {@link TensorOps} that forwards to another and counts the dense linear-algebra calls, for cost assertions. */
final class AlpsCountingOps implements TensorOps {
    private final TensorOps inner;
    int gemms;
    int grams;
    int choleskys;
    int triangularSolves;
    int eigens;
    int conjugateGradients;

    AlpsCountingOps(TensorOps inner) {
        this.inner = inner;
    }

    @Override
    public String name() {
        return "counting(" + inner.name() + ")";
    }

    @Override
    public void gemm(boolean transA, boolean transB, float alpha, Tensor a, Tensor b, float beta, Tensor c) {
        gemms++;
        inner.gemm(transA, transB, alpha, a, b, beta, c);
    }

    @Override
    public void accumulateGram(Tensor x, float scale, Tensor g) {
        grams++;
        inner.accumulateGram(x, scale, g);
    }

    @Override
    public void cholesky(Tensor a) {
        choleskys++;
        inner.cholesky(a);
    }

    @Override
    public void solveLowerTriangular(Tensor l, boolean transpose, Tensor b) {
        triangularSolves++;
        inner.solveLowerTriangular(l, transpose, b);
    }

    @Override
    public void symmetricEigen(Tensor a, Tensor values, Tensor vectors) {
        eigens++;
        inner.symmetricEigen(a, values, vectors);
    }

    @Override
    public int maskedConjugateGradient(Tensor h, Tensor b, Tensor mask, Tensor x, int maxIterations, double tolerance) {
        conjugateGradients++;
        return inner.maskedConjugateGradient(h, b, mask, x, maxIterations, tolerance);
    }

    @Override
    public void obsSweep(Tensor u, int nmKeep, int nmGroup, Tensor marks, Tensor w, Tensor errors) {
        inner.obsSweep(u, nmKeep, nmGroup, marks, w, errors);
    }

    @Override
    public void rmsNorm(Tensor x, Tensor weight, float eps, Tensor out) {
        inner.rmsNorm(x, weight, eps, out);
    }

    @Override
    public void rope(Tensor x, int headDim, int startPosition, Tensor invFreq) {
        inner.rope(x, headDim, startPosition, invFreq);
    }

    @Override
    public void causalSoftmax(Tensor scores, int firstQueryPosition, float scale, int window) {
        inner.causalSoftmax(scores, firstQueryPosition, scale, window);
    }

    @Override
    public void siluMul(Tensor gate, Tensor up, Tensor out) {
        inner.siluMul(gate, up, out);
    }

    @Override
    public void add(Tensor x, Tensor y) {
        inner.add(x, y);
    }

    @Override
    public void addRowVector(Tensor bias, Tensor y) {
        inner.addRowVector(bias, y);
    }
}
