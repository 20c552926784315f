using MathNet.Numerics.LinearAlgebra;
using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Engine.Random;

namespace Tessera.Models.Probe;

/// <summary>Frozen features [N, D] (float32) and their int64 class labels [N].</summary>
public sealed record ProbeSplit(Tensor Features, Tensor Labels);

/// <summary>Settings of a linear-probe sweep.</summary>
public sealed record LinearProbeOptions
{
    /// <summary>Smallest and largest L2 of the log-spaced grid (the usual 1e-5 .. 1e-1).</summary>
    public double MinL2 { get; init; } = 1e-5;

    public double MaxL2 { get; init; } = 1e-1;

    /// <summary>Grid points, log-spaced and inclusive of both ends (9: half decades).</summary>
    public int GridSize { get; init; } = 9;

    /// <summary>L-BFGS iteration cap per fit (at most 1000).</summary>
    public int MaxIterations { get; init; } = 1000;

    /// <summary>Fraction of the training split held out for selection when no validation split is given.</summary>
    public double ValidationFraction { get; init; } = 0.2;

    /// <summary>Seed of the held-out draw.</summary>
    public ulong Seed { get; init; }

    public bool Standardise { get; init; } = true;
}

/// <summary>One L2 of the sweep.</summary>
public sealed record LinearProbeSweepPoint(double L2, double TrainAccuracy, double ValidationAccuracy, int Iterations, bool Converged, double Loss);

/// <summary>The outcome: the chosen L2 (best validation accuracy; ties go to the larger L2), its accuracies, every sweep point and the model.</summary>
public sealed record LinearProbeReport(double ChosenL2, double TrainAccuracy, double ValidationAccuracy, double? TestAccuracy,
    IReadOnlyList<LinearProbeSweepPoint> Sweep, LogisticRegressionModel Model);

/// <summary>
/// Linear probe of frozen features: multinomial logistic regression (L-BFGS, L2 penalty) fitted on
/// the training split for every L2 of a log grid, from the largest L2 down, each warm-started from
/// the previous solution; the L2 with the best validation accuracy is chosen and its model scored
/// on the test split.
/// </summary>
public static class LinearProbe
{
    public static LinearProbeReport Run(ProbeSplit train, ProbeSplit? validation = null, ProbeSplit? test = null, LinearProbeOptions? options = null, int? classCount = null)
    {
        ArgumentNullException.ThrowIfNull(train);
        options ??= new LinearProbeOptions();
        CheckOptions(options);
        var (trainX, trainY) = Read(train, "train");
        Matrix<double> validationX;
        int[] validationY;
        if (validation is null)
            (trainX, trainY, validationX, validationY) = HoldOut(trainX, trainY, options.ValidationFraction, options.Seed);
        else
            (validationX, validationY) = Read(validation, "validation");
        var testData = test is null ? ((Matrix<double>, int[])?)null : Read(test, "test");
        if (validationX.ColumnCount != trainX.ColumnCount || (testData is { } t0 && t0.Item1.ColumnCount != trainX.ColumnCount))
            throw new ArgumentException($"LinearProbe: every split needs the training split's feature width {trainX.ColumnCount}", nameof(validation));
        int classes = classCount ?? 1 + trainY.Concat(validationY).Concat(testData?.Item2 ?? []).Max();
        classes = Math.Max(classes, 2);
        LogisticRegression.Validate(validationX, validationY, classes);
        if (testData is { } t1) LogisticRegression.Validate(t1.Item1, t1.Item2, classes);

        var sweep = new List<LinearProbeSweepPoint>();
        LogisticRegressionModel? previous = null, best = null;
        double bestAccuracy = double.NegativeInfinity;
        foreach (double l2 in Grid(options).Reverse())
        {
            var model = LogisticRegression.Fit(trainX, trainY, classes, l2, options.MaxIterations, options.Standardise, initial: previous);
            double validationAccuracy = model.Accuracy(validationX, validationY);
            sweep.Add(new LinearProbeSweepPoint(l2, model.Accuracy(trainX, trainY), validationAccuracy, model.Iterations, model.Converged, model.Loss));
            if (validationAccuracy > bestAccuracy)
            {
                bestAccuracy = validationAccuracy;
                best = model;
            }
            previous = model;
        }
        sweep.Reverse();
        var chosen = best!;
        return new LinearProbeReport(chosen.L2, chosen.Accuracy(trainX, trainY), bestAccuracy,
            testData is { } t2 ? chosen.Accuracy(t2.Item1, t2.Item2) : null, sweep, chosen);
    }

    /// <summary>The L2 grid: GridSize values log-spaced from MinL2 to MaxL2 inclusive.</summary>
    public static double[] Grid(LinearProbeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        CheckOptions(options);
        if (options.GridSize == 1) return [options.MinL2];
        double low = Math.Log10(options.MinL2), high = Math.Log10(options.MaxL2);
        return Enumerable.Range(0, options.GridSize).Select(i => Math.Pow(10, low + (high - low) * i / (options.GridSize - 1))).ToArray();
    }

    /// <summary>Features and labels of a split as double rows and int labels, with shape and dtype checks.</summary>
    internal static (Matrix<double> Features, int[] Labels) Read(ProbeSplit split, string name)
    {
        ArgumentNullException.ThrowIfNull(split);
        var (features, labels) = (split.Features, split.Labels);
        if (features.DType != DType.Float32 || features.Rank != 2)
            throw new ArgumentException($"LinearProbe: {name} features expected float32 [N, D], found {features.DType.Name()} of shape {Shapes.Format(features.Shape)}", nameof(split));
        if ((labels.DType != DType.Int64 && labels.DType != DType.Int32) || labels.Rank != 1)
            throw new ArgumentException($"LinearProbe: {name} labels expected int64 [N], found {labels.DType.Name()} of shape {Shapes.Format(labels.Shape)}", nameof(split));
        if (labels.Size(0) != features.Size(0))
            throw new ArgumentException($"LinearProbe: {name} split has {features.Size(0)} feature rows but {labels.Size(0)} labels; expected one label per row", nameof(split));
        if (features.Size(0) == 0)
            throw new ArgumentException($"LinearProbe: {name} split is empty", nameof(split));
        int rows = features.Size(0), columns = features.Size(1);
        float[] values = features.Contiguous().ToArray();
        var matrix = Matrix<double>.Build.Dense(rows, columns, (n, d) => values[n * columns + d]);
        long[] raw = labels.ToLong().ToArray<long>();
        var ints = new int[rows];
        for (int n = 0; n < rows; n++)
        {
            if (raw[n] < 0 || raw[n] > int.MaxValue)
                throw new ArgumentOutOfRangeException(nameof(split), raw[n], $"LinearProbe: {name} label of row {n} must be a class index >= 0, found {raw[n]}");
            ints[n] = (int)raw[n];
        }
        return (matrix, ints);
    }

    private static (Matrix<double>, int[], Matrix<double>, int[]) HoldOut(Matrix<double> x, int[] y, double fraction, ulong seed)
    {
        int held = (int)Math.Round(x.RowCount * fraction);
        if (held < 1 || held >= x.RowCount)
            throw new ArgumentException($"LinearProbe: holding out {fraction:P0} of {x.RowCount} training rows leaves no validation or no training data; pass a validation split", nameof(fraction));
        var order = Enumerable.Range(0, x.RowCount).ToArray();
        var generator = new Generator(seed);
        for (int i = order.Length - 1; i > 0; i--)
        {
            int j = generator.NextInt(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        var validation = order.Take(held).Order().ToArray();
        var training = order.Skip(held).Order().ToArray();
        Matrix<double> Rows(int[] indices) => Matrix<double>.Build.Dense(indices.Length, x.ColumnCount, (n, d) => x[indices[n], d]);
        return (Rows(training), training.Select(i => y[i]).ToArray(), Rows(validation), validation.Select(i => y[i]).ToArray());
    }

    private static void CheckOptions(LinearProbeOptions options)
    {
        if (!(options.MinL2 > 0) || !(options.MaxL2 >= options.MinL2) || double.IsInfinity(options.MaxL2))
            throw new ArgumentOutOfRangeException(nameof(options), $"LinearProbe: expected 0 < MinL2 <= MaxL2 (finite), found {options.MinL2} and {options.MaxL2}");
        if (options.GridSize < 1)
            throw new ArgumentOutOfRangeException(nameof(options), options.GridSize, "LinearProbe: GridSize must be at least 1");
        if (options.MaxIterations < 1 || options.MaxIterations > 1000)
            throw new ArgumentOutOfRangeException(nameof(options), options.MaxIterations, "LinearProbe: MaxIterations must be in [1, 1000]");
        if (!(options.ValidationFraction > 0 && options.ValidationFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(options), options.ValidationFraction, "LinearProbe: ValidationFraction must be in (0, 1)");
    }
}
