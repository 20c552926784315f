using MathNet.Numerics.LinearAlgebra;
using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Probe;
using Xunit;

namespace Tessera.Tests.Probe;

/// <summary>Logistic regression by L-BFGS and the L2 sweep of the linear probe.</summary>
public sealed class LinearProbeTests
{
    /// <summary>count points around classCount centres spread by <paramref name="spread"/> in featureCount dims.</summary>
    private static ProbeSplit Blobs(int count, int classCount, int featureCount, float spread, Generator generator)
    {
        var centres = new float[classCount * featureCount];
        var centreGenerator = new Generator(1234);
        centreGenerator.Normal(centres, 0f, 3f);
        var noise = new float[count * featureCount];
        generator.Normal(noise, 0f, spread);
        var features = new float[count * featureCount];
        var labels = new long[count];
        for (int n = 0; n < count; n++)
        {
            labels[n] = n % classCount;
            for (int d = 0; d < featureCount; d++) features[n * featureCount + d] = centres[labels[n] * featureCount + d] + noise[n * featureCount + d];
        }
        return new ProbeSplit(Tensor.FromArray(features, count, featureCount), Tensor.FromArray(labels, count));
    }

    [Fact]
    public void SeparableDataReachesFullAccuracyAndReportsTheSweep()
    {
        var report = LinearProbe.Run(Blobs(240, 3, 8, 0.3f, new Generator(1)), Blobs(60, 3, 8, 0.3f, new Generator(2)), Blobs(90, 3, 8, 0.3f, new Generator(3)));
        Assert.Equal(1.0, report.TrainAccuracy);
        Assert.Equal(1.0, report.ValidationAccuracy);
        Assert.Equal(1.0, report.TestAccuracy);
        Assert.Equal(9, report.Sweep.Count);
        Assert.Equal(1e-5, report.Sweep[0].L2, 12);
        Assert.Equal(1e-1, report.Sweep[^1].L2, 12);
        Assert.Contains(report.ChosenL2, report.Sweep.Select(p => p.L2));
        // Every accuracy is perfect, so the tie goes to the strongest regularisation.
        Assert.Equal(1e-1, report.ChosenL2, 12);
        Assert.All(report.Sweep, p => Assert.True(p.Iterations <= 1000));
    }

    [Fact]
    public void SweepChoosesOnValidationAndIsDeterministic()
    {
        // Overlapping blobs in many dims with few samples: the L2 matters.
        var train = Blobs(60, 4, 30, 4f, new Generator(10));
        var first = LinearProbe.Run(train, options: new LinearProbeOptions { GridSize = 5, Seed = 7 });
        var second = LinearProbe.Run(train, options: new LinearProbeOptions { GridSize = 5, Seed = 7 });
        Assert.Equal(first.ChosenL2, second.ChosenL2);
        Assert.Equal(first.Sweep.Select(p => p.Loss), second.Sweep.Select(p => p.Loss));
        Assert.Equal(first.Sweep.Max(p => p.ValidationAccuracy), first.ValidationAccuracy);
        Assert.Equal(first.ChosenL2, first.Sweep.Last(p => p.ValidationAccuracy == first.ValidationAccuracy).L2);
        Assert.True(first.ValidationAccuracy > 0.4, $"validation accuracy {first.ValidationAccuracy}; chance is 0.25");
        // Stronger L2 fits the training set less tightly.
        Assert.True(first.Sweep[0].Loss < first.Sweep[^1].Loss);
    }

    [Fact]
    public void FitReachesAStationaryPointWithACorrectGradient()
    {
        var (x, y) = LinearProbe.Read(Blobs(80, 3, 5, 2f, new Generator(4)), "train");
        var model = LogisticRegression.Fit(x, y, 3, l2: 1e-2);
        Assert.True(model.Converged);
        var (loss, gradient) = LogisticRegression.Evaluate(model, x, y);
        Assert.True(gradient.L2Norm() < 1e-5, $"gradient norm at the optimum {gradient.L2Norm():g3}");
        Assert.Equal(model.Loss, loss, 12);

        // The gradient is right (so a zero gradient certifies the optimum): central differences at a perturbed point.
        var perturbed = LogisticRegression.Fit(x, y, 3, l2: 1e-2, maxIterations: 1);
        var (_, analytic) = LogisticRegression.Evaluate(perturbed, x, y);
        foreach (int k in new[] { 0, 7, 14, 16 })
        {
            double step = 1e-5;
            double Shifted(double delta)
            {
                var weight = perturbed.Weight.Clone();
                var bias = perturbed.Bias.Clone();
                if (k < 15) weight[k / 5, k % 5] += delta; else bias[k - 15] += delta;
                return LogisticRegression.Evaluate(Rebuild(perturbed, weight, bias), x, y).Loss;
            }
            double numeric = (Shifted(step) - Shifted(-step)) / (2 * step);
            Assert.True(Math.Abs(numeric - analytic[k]) < 1e-6, $"parameter {k}: analytic {analytic[k]}, numeric {numeric}");
        }
    }

    /// <summary>The model's standardisation with new parameters.</summary>
    private static LogisticRegressionModel Rebuild(LogisticRegressionModel model, Matrix<double> weight, Vector<double> bias) =>
        new(weight, bias, model.Mean.ToArray(), model.Scale.ToArray(), model.L2, 0, false, 0.0, 0.0);

    [Fact]
    public void BadInputIsRejectedClearly()
    {
        var good = Blobs(20, 2, 3, 1f, new Generator(1));
        var mismatch = new ProbeSplit(good.Features, Tensor.FromArray(new long[19], 19));
        Assert.Contains("20 feature rows but 19 labels", Assert.Throws<ArgumentException>(() => LinearProbe.Run(mismatch)).Message, StringComparison.Ordinal);
        var negative = new ProbeSplit(good.Features, Tensor.FromArray(Enumerable.Range(0, 20).Select(i => i == 3 ? -1L : 0L).ToArray(), 20));
        Assert.Contains("row 3", Assert.Throws<ArgumentOutOfRangeException>(() => LinearProbe.Run(negative)).Message, StringComparison.Ordinal);
        var tooLarge = new ProbeSplit(good.Features, Tensor.FromArray(Enumerable.Range(0, 20).Select(i => (long)(i % 3)).ToArray(), 20));
        Assert.Contains("expected in [0, 1]", Assert.Throws<ArgumentOutOfRangeException>(() => LinearProbe.Run(tooLarge, classCount: 2)).Message, StringComparison.Ordinal);
        var flat = new ProbeSplit(Tensor.FromArray(new float[20], 20), good.Labels);
        Assert.Contains("float32 [N, D]", Assert.Throws<ArgumentException>(() => LinearProbe.Run(flat)).Message, StringComparison.Ordinal);
        var values = good.Features.ToArray();
        values[5] = float.NaN;
        Assert.Contains("NaN", Assert.Throws<ArgumentException>(() => LinearProbe.Run(new ProbeSplit(Tensor.FromArray(values, 20, 3), good.Labels))).Message, StringComparison.Ordinal);
        var narrow = new ProbeSplit(Tensor.FromArray(new float[10], 5, 2), Tensor.FromArray(new long[5], 5));
        Assert.Contains("feature width", Assert.Throws<ArgumentException>(() => LinearProbe.Run(good, narrow)).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => LinearProbe.Run(good, options: new LinearProbeOptions { MaxIterations = 5000 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => LinearProbe.Run(good, options: new LinearProbeOptions { MinL2 = 0 }));
    }
}

/// <summary>The feature file behind <c>tessera probe</c>.</summary>
public sealed class ProbeFeatureFileTests
{
    [Fact]
    public void RoundTripsAndRejectsIncompleteFiles()
    {
        string folder = Path.Combine(Path.GetTempPath(), "tessera-probe-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            var train = new ProbeSplit(Tensor.FromArray(new float[] { 0, 1, 2, 3, 4, 5 }, 3, 2), Tensor.FromArray(new long[] { 0, 1, 0 }, 3));
            var test = new ProbeSplit(Tensor.FromArray(new float[] { 6, 7 }, 1, 2), Tensor.FromArray(new long[] { 1 }, 1));
            string path = Path.Combine(folder, "features.safetensors");
            ProbeFeatureFile.Save(path, train, test: test);
            var (loadedTrain, loadedValidation, loadedTest) = ProbeFeatureFile.Load(path);
            Assert.Equal(train.Features.ToArray(), loadedTrain.Features.ToArray());
            Assert.Equal(train.Labels.ToArray<long>(), loadedTrain.Labels.ToArray<long>());
            Assert.Null(loadedValidation);
            Assert.Equal(test.Features.ToArray(), loadedTest!.Features.ToArray());
            Assert.Empty(Directory.GetFiles(folder, "*.tmp"));

            string onlyTest = Path.Combine(folder, "only-test.safetensors");
            Tessera.Engine.Serialization.SafeTensors.Write(onlyTest, new Dictionary<string, Tessera.Engine.Serialization.SafeTensorEntry> { ["test.features"] = test.Features.ToEntry(), ["test.labels"] = test.Labels.ToEntry() });
            Assert.Contains("no 'train.features'", Assert.Throws<InvalidDataException>(() => ProbeFeatureFile.Load(onlyTest)).Message, StringComparison.Ordinal);
            Tessera.Engine.Serialization.SafeTensors.Write(onlyTest, new Dictionary<string, Tessera.Engine.Serialization.SafeTensorEntry> { ["train.features"] = train.Features.ToEntry() });
            Assert.Contains("each split needs both", Assert.Throws<InvalidDataException>(() => ProbeFeatureFile.Load(onlyTest)).Message, StringComparison.Ordinal);
            Assert.Throws<FileNotFoundException>(() => ProbeFeatureFile.Load(Path.Combine(folder, "missing.safetensors")));

            var metrics = LinearProbe.Run(train, test: test, options: new LinearProbeOptions { GridSize = 2, ValidationFraction = 0.34 }).ToMetrics(1.234);
            Assert.Equal(["probe_l2", "train_top1", "val_top1", "test_top1", "iterations", "seconds"], metrics.Keys);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
