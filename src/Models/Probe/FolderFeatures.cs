using Tessera.Autograd;
using Tessera.Models.Data.Folder;
using Tessera.Models.Recipes;
using Tessera.Models.Training;
using F = Tessera.Autograd.Functional;

namespace Tessera.Models.Probe;

/// <summary>
/// Frozen features of an image folder for the linear probe: a training checkpoint's backbone
/// (its first task's input size) over the folder's train and validation images, centre-cropped,
/// globally average-pooled from the final feature map.
/// </summary>
public static class FolderFeatures
{
    /// <summary>Returns (train, validation) feature splits; <paramref name="progress"/> gets (done, total) images.</summary>
    public static (ProbeSplit Train, ProbeSplit Validation) Extract(string checkpointPath, string folder, int batchSize = 64, Action<int, int>? progress = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(checkpointPath);
        var recipe = RecipeLoader.Parse(Checkpoint.ReadRecipe(checkpointPath), $"{checkpointPath} (stored recipe)");
        var trainer = RecipeCatalog.Build(recipe).CreateTrainer();
        Checkpoint.Restore(checkpointPath, trainer);
        var task = trainer.Model.Tasks[0];
        var source = new ImageFolderSource("probe", ImageFolderIndex.Scan(folder));
        int train = source.TrainCount(task.InputSize), validation = (int)source.TestCount, done = 0;
        trainer.Model.Eval();
        using var noGrad = GradMode.NoGrad();
        ProbeSplit Split(bool isTrain, int count)
        {
            var rows = new List<float[]>();
            var labels = new List<long>();
            for (long b = 0; b * batchSize < count; b++)
            {
                using var scope = new TensorScope();
                var batch = source.Ordered(isTrain, b, batchSize, task.InputSize);
                var map = trainer.Model.Backbone.Forward(task.Name, batch.Inputs.To(trainer.Options.Device)).Final;
                var pooled = (map.Rank == 4 ? F.GlobalAvgPool2d(map).Flatten(1) : map).To(Engine.Device.Cpu).Contiguous();
                int width = pooled.Size(1);
                var values = pooled.ToArray<float>();
                for (int i = 0; i < batch.BatchSize; i++) rows.Add(values.AsSpan(i * width, width).ToArray());
                labels.AddRange(((Tensor)batch.Targets).ToArray<long>());
                done += batch.BatchSize;
                progress?.Invoke(done, train + validation);
            }
            if (rows.Count == 0)
                throw new InvalidDataException($"probe: image folder '{folder}' has no {(isTrain ? "train" : "validation")} images");
            int dimension = rows[0].Length;
            var features = new float[rows.Count * dimension];
            for (int r = 0; r < rows.Count; r++) rows[r].CopyTo(features, r * dimension);
            return new ProbeSplit(Tensor.FromArray(features, rows.Count, dimension), Tensor.FromArray(labels.ToArray(), labels.Count));
        }
        return (Split(true, train), Split(false, validation));
    }
}
