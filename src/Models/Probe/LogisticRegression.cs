using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.Optimization;

namespace Tessera.Models.Probe;

/// <summary>A fitted multinomial logistic regression: logits = standardise(x)·Wᵀ + b.</summary>
public sealed class LogisticRegressionModel
{
    internal LogisticRegressionModel(Matrix<double> weight, Vector<double> bias, double[] mean, double[] scale, double l2, int iterations, bool converged, double loss, double gradientNorm)
    {
        Weight = weight;
        Bias = bias;
        Mean = mean;
        Scale = scale;
        L2 = l2;
        Iterations = iterations;
        Converged = converged;
        Loss = loss;
        GradientNorm = gradientNorm;
    }

    /// <summary>Weights [classes, features] on standardised features.</summary>
    public Matrix<double> Weight { get; }

    /// <summary>Biases [classes].</summary>
    public Vector<double> Bias { get; }

    /// <summary>Per-feature mean and scale applied before the linear map (0 and 1 without standardisation).</summary>
    public IReadOnlyList<double> Mean { get; }

    public IReadOnlyList<double> Scale { get; }

    public double L2 { get; }

    /// <summary>L-BFGS iterations used.</summary>
    public int Iterations { get; }

    /// <summary>False when L-BFGS stopped at the iteration cap (the best point seen is kept).</summary>
    public bool Converged { get; }

    /// <summary>Objective at the solution: mean cross entropy + (L2 / 2)·‖W‖².</summary>
    public double Loss { get; }

    /// <summary>Euclidean norm of the objective's gradient at the solution.</summary>
    public double GradientNorm { get; }

    public int ClassCount => Weight.RowCount;

    public int FeatureCount => Weight.ColumnCount;

    /// <summary>Logits [N, classes] for raw features [N, features].</summary>
    public Matrix<double> Logits(Matrix<double> features)
    {
        if (features.ColumnCount != FeatureCount)
            throw new ArgumentException($"LogisticRegressionModel: expected {FeatureCount} features per row, found {features.ColumnCount}", nameof(features));
        var standardised = LogisticRegression.Standardise(features, (double[])Mean, (double[])Scale);
        var logits = standardised.TransposeAndMultiply(Weight);
        for (int c = 0; c < ClassCount; c++)
            for (int n = 0; n < logits.RowCount; n++) logits[n, c] += Bias[c];
        return logits;
    }

    /// <summary>Predicted class per row.</summary>
    public int[] Predict(Matrix<double> features)
    {
        var logits = Logits(features);
        var predicted = new int[logits.RowCount];
        for (int n = 0; n < logits.RowCount; n++)
        {
            int best = 0;
            for (int c = 1; c < ClassCount; c++) if (logits[n, c] > logits[n, best]) best = c;
            predicted[n] = best;
        }
        return predicted;
    }

    /// <summary>Fraction of rows predicted as their label.</summary>
    public double Accuracy(Matrix<double> features, int[] labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        var predicted = Predict(features);
        return labels.Length == 0 ? double.NaN : (double)predicted.Zip(labels).Count(p => p.First == p.Second) / labels.Length;
    }
}

/// <summary>
/// Multinomial logistic regression with an L2 penalty on the weights (not the biases), fitted by
/// MathNet's L-BFGS in double precision: minimise (1/N) Σ −log softmax(W x_n + b)[y_n] + (λ/2)‖W‖².
/// The objective is strictly convex for λ &gt; 0, so the optimum is unique and its gradient is zero.
/// </summary>
public static class LogisticRegression
{
    /// <summary>Fits features [N, D] and labels in [0, classCount).</summary>
    /// <param name="standardise">Centre and scale each feature by its training mean and standard deviation (constant features keep scale 1); this conditions L-BFGS and makes L2 scale-free.</param>
    /// <param name="initial">Warm start (a model of the same shape, e.g. from the neighbouring L2 of a sweep).</param>
    public static LogisticRegressionModel Fit(Matrix<double> features, int[] labels, int classCount, double l2, int maxIterations = 1000,
        bool standardise = true, double gradientTolerance = 1e-6, LogisticRegressionModel? initial = null)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(labels);
        Validate(features, labels, classCount);
        if (!(l2 >= 0) || double.IsInfinity(l2))
            throw new ArgumentOutOfRangeException(nameof(l2), l2, $"LogisticRegression: 'l2' expected a finite value >= 0, found {l2}");
        if (maxIterations < 1 || maxIterations > 1000)
            throw new ArgumentOutOfRangeException(nameof(maxIterations), maxIterations, $"LogisticRegression: 'maxIterations' expected in [1, 1000], found {maxIterations}");
        int featureCount = features.ColumnCount;
        var (mean, scale) = standardise ? Moments(features) : (new double[featureCount], Enumerable.Repeat(1.0, featureCount).ToArray());
        var x = Standardise(features, mean, scale);
        var objective = new Objective(x, labels, classCount, l2);
        var start = Vector<double>.Build.Dense(classCount * featureCount + classCount);
        if (initial is not null && initial.ClassCount == classCount && initial.FeatureCount == featureCount)
            start = Pack(initial.Weight, initial.Bias);
        var minimizer = new LimitedMemoryBfgsMinimizer(gradientTolerance, 0, 0, memory: 10, maximumIterations: maxIterations);
        Vector<double> solution;
        int iterations;
        bool converged;
        try
        {
            var result = minimizer.FindMinimum(ObjectiveFunction.Gradient(objective.ValueAndGradient), start);
            solution = result.MinimizingPoint;
            iterations = result.Iterations;
            converged = true;
        }
        catch (OptimizationException)
        {
            // The iteration cap or a line search that cannot progress (already at the optimum to
            // machine precision): keep the best point evaluated.
            solution = objective.Best;
            iterations = maxIterations;
            converged = objective.BestGradientNorm <= gradientTolerance * 10;
        }
        var (loss, gradient) = objective.ValueAndGradient(solution);
        var (weight, bias) = Unpack(solution, classCount, featureCount);
        return new LogisticRegressionModel(weight, bias, mean, scale, l2, iterations, converged, loss, gradient.L2Norm());
    }

    /// <summary>The objective and its gradient at raw parameters (W row-major, then b), on standardised features: for tests and diagnostics.</summary>
    public static (double Loss, Vector<double> Gradient) Evaluate(LogisticRegressionModel model, Matrix<double> features, int[] labels)
    {
        ArgumentNullException.ThrowIfNull(model);
        Validate(features, labels, model.ClassCount);
        var objective = new Objective(Standardise(features, (double[])model.Mean, (double[])model.Scale), labels, model.ClassCount, model.L2);
        return objective.ValueAndGradient(Pack(model.Weight, model.Bias));
    }

    internal static void Validate(Matrix<double> features, int[] labels, int classCount)
    {
        if (classCount < 2)
            throw new ArgumentOutOfRangeException(nameof(classCount), classCount, $"LogisticRegression: needs at least 2 classes, found {classCount}");
        if (features.RowCount != labels.Length)
            throw new ArgumentException($"LogisticRegression: {features.RowCount} feature rows but {labels.Length} labels; expected one label per row", nameof(labels));
        if (labels.Length == 0)
            throw new ArgumentException("LogisticRegression: no samples to fit", nameof(labels));
        for (int n = 0; n < labels.Length; n++)
            if (labels[n] < 0 || labels[n] >= classCount)
                throw new ArgumentOutOfRangeException(nameof(labels), labels[n], $"LogisticRegression: label of row {n} expected in [0, {classCount - 1}], found {labels[n]}");
        if (features.Enumerate().Any(v => !double.IsFinite(v)))
            throw new ArgumentException("LogisticRegression: features contain NaN or infinity", nameof(features));
    }

    internal static Matrix<double> Standardise(Matrix<double> features, double[] mean, double[] scale)
    {
        var x = features.Clone();
        for (int d = 0; d < x.ColumnCount; d++)
            for (int n = 0; n < x.RowCount; n++) x[n, d] = (x[n, d] - mean[d]) / scale[d];
        return x;
    }

    private static (double[] Mean, double[] Scale) Moments(Matrix<double> features)
    {
        int rows = features.RowCount, columns = features.ColumnCount;
        var mean = new double[columns];
        var scale = new double[columns];
        for (int d = 0; d < columns; d++)
        {
            var column = features.Column(d);
            mean[d] = column.Sum() / rows;
            double variance = column.Sum(v => (v - mean[d]) * (v - mean[d])) / rows;
            scale[d] = variance > 1e-24 ? Math.Sqrt(variance) : 1.0;
        }
        return (mean, scale);
    }

    private static Vector<double> Pack(Matrix<double> weight, Vector<double> bias)
    {
        var packed = Vector<double>.Build.Dense(weight.RowCount * weight.ColumnCount + bias.Count);
        for (int c = 0; c < weight.RowCount; c++)
            for (int d = 0; d < weight.ColumnCount; d++) packed[c * weight.ColumnCount + d] = weight[c, d];
        for (int c = 0; c < bias.Count; c++) packed[weight.RowCount * weight.ColumnCount + c] = bias[c];
        return packed;
    }

    private static (Matrix<double> Weight, Vector<double> Bias) Unpack(Vector<double> packed, int classCount, int featureCount)
    {
        var weight = Matrix<double>.Build.Dense(classCount, featureCount, (c, d) => packed[c * featureCount + d]);
        var bias = Vector<double>.Build.Dense(classCount, c => packed[classCount * featureCount + c]);
        return (weight, bias);
    }

    /// <summary>Loss and gradient on fixed standardised data; remembers the best point evaluated.</summary>
    private sealed class Objective(Matrix<double> x, int[] labels, int classCount, double l2)
    {
        private double _bestLoss = double.PositiveInfinity;

        public Vector<double> Best { get; private set; } = Vector<double>.Build.Dense(classCount * x.ColumnCount + classCount);

        public double BestGradientNorm { get; private set; } = double.PositiveInfinity;

        public (double, Vector<double>) ValueAndGradient(Vector<double> parameters)
        {
            int rows = x.RowCount, featureCount = x.ColumnCount;
            var (weight, bias) = Unpack(parameters, classCount, featureCount);
            var logits = x.TransposeAndMultiply(weight); // [N, C]
            double loss = 0;
            // residual = softmax(logits) - onehot(labels), [N, C]
            var residual = Matrix<double>.Build.Dense(rows, classCount);
            for (int n = 0; n < rows; n++)
            {
                double max = double.NegativeInfinity;
                for (int c = 0; c < classCount; c++)
                {
                    logits[n, c] += bias[c];
                    max = Math.Max(max, logits[n, c]);
                }
                double sum = 0;
                for (int c = 0; c < classCount; c++) sum += Math.Exp(logits[n, c] - max);
                double logSum = max + Math.Log(sum);
                loss += logSum - logits[n, labels[n]];
                for (int c = 0; c < classCount; c++) residual[n, c] = Math.Exp(logits[n, c] - logSum);
                residual[n, labels[n]] -= 1;
            }
            loss /= rows;
            loss += 0.5 * l2 * weight.FrobeniusNorm() * weight.FrobeniusNorm();
            var gradWeight = residual.TransposeThisAndMultiply(x) / rows + l2 * weight; // [C, D]
            var gradBias = residual.ColumnSums() / rows;
            var gradient = Pack(gradWeight, gradBias);
            if (loss < _bestLoss)
            {
                _bestLoss = loss;
                Best = parameters.Clone();
                BestGradientNorm = gradient.L2Norm();
            }
            return (loss, gradient);
        }
    }
}
