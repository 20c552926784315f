using System.Globalization;
using SkiaSharp;
using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Data.Images;
using Tessera.Models.Detection;
using Tessera.Models.Recipes;

namespace Tessera.Models.Training;

/// <summary>
/// Sample predictions for a run's report: the first test images of each classification, detection
/// and segmentation task with what the model predicts drawn on them (class captions, boxes over
/// dashed ground truth, filled masks beside the true ones), one PNG per task in the run folder.
/// </summary>
public static class PredictionSamples
{
    public const int Images = 6;
    private const int Tile = 144, Caption = 34;

    /// <summary>Writes samples-TASK.png for every task whose head it can draw; returns them for the report.</summary>
    public static IReadOnlyList<ReportImage> Write(string folder, MultiTaskTrainer trainer)
    {
        ArgumentNullException.ThrowIfNull(trainer);
        var written = new List<ReportImage>();
        trainer.Model.Eval();
        try
        {
            using var noGrad = GradMode.NoGrad();
            foreach (var task in trainer.Model.Tasks)
            {
                if (task.Head is not (ClassificationHead or DetectionTaskHead or SegmentationTaskHead)) continue;
                using var scope = new TensorScope();
                var batch = task.Source.Sample(DataSplit.Test, 0, Math.Min(Images, task.BatchSize), task.InputSize, new Generator(0)).To(trainer.Options.Device);
                if (batch.BatchSize == 0) continue;
                var features = trainer.Model.Backbone.Forward(task.Name, batch.Inputs);
                var names = (task.Source as ILabelledSource)?.ClassNames;
                string file = $"samples-{task.Name}.png";
                int count = batch.BatchSize, size = task.InputSize, scale = Math.Max(1, Tile / size);
                bool segmentation = task.Head is SegmentationTaskHead;
                int cell = size * scale, columns = segmentation ? 2 : 1;
                using var drawing = new Annotator(count * (columns * cell + 8) + 8, cell + Caption + 8, new SKColor(250, 250, 250));
                var pixels = batch.Inputs.To(Engine.Device.Cpu).Contiguous().ToArray<float>();
                int imageFloats = 3 * size * size;
                for (int i = 0; i < count; i++)
                {
                    int left = 8 + i * (columns * cell + 8), top = 8;
                    var image = batch.Inputs.Size(1) == 3 ? pixels.AsSpan(i * imageFloats, imageFloats) : Grey(pixels.AsSpan(i * size * size, size * size));
                    for (int copy = 0; copy < columns; copy++) drawing.Image(image, size, size, left + copy * cell, top, scale, stretch: true);
                }
                string caption = task.Head switch
                {
                    ClassificationHead classify => Classification(drawing, classify.Logits(features), batch, names, cell, scale),
                    DetectionTaskHead detect => Detection(drawing, detect.Detect(features, batch), batch, names, cell, scale),
                    SegmentationTaskHead segment => Segmentation(drawing, segment.Logits(features, batch).Argmax(1), batch, size, scale),
                    _ => "",
                };
                drawing.Save(Path.Combine(folder, file));
                written.Add(new ReportImage(file, $"{task.Name}: {caption}"));
            }
        }
        finally
        {
            trainer.Model.Train();
        }
        return written;
    }

    private static float[] Grey(ReadOnlySpan<float> plane)
    {
        var rgb = new float[3 * plane.Length];
        for (int c = 0; c < 3; c++) plane.CopyTo(rgb.AsSpan(c * plane.Length));
        return rgb;
    }

    private static string Name(IReadOnlyList<string>? names, long label) =>
        names is not null && label >= 0 && label < names.Count ? names[(int)label] : label.ToString(CultureInfo.InvariantCulture);

    private static string Classification(Annotator drawing, Tensor logits, TaskBatch batch, IReadOnlyList<string>? names, int cell, int scale)
    {
        var predicted = logits.Argmax(1).To(Engine.Device.Cpu).ToArray<long>();
        var truth = ((Tensor)batch.Targets).To(Engine.Device.Cpu).ToArray<long>();
        for (int i = 0; i < predicted.Length; i++)
        {
            int left = 8 + i * (cell + 8);
            bool right = predicted[i] == truth[i];
            drawing.Text(Name(names, predicted[i]), left, 8 + cell + 14, right ? new SKColor(40, 160, 60) : new SKColor(210, 50, 50));
            drawing.Text($"true: {Name(names, truth[i])}", left, 8 + cell + 29, new SKColor(90, 90, 90), 11);
        }
        return "predicted class under each test image (green: right, red: wrong), the true class below it";
    }

    private static string Detection(Annotator drawing, IReadOnlyList<Detections> detections, TaskBatch batch, IReadOnlyList<string>? names, int cell, int scale)
    {
        var targets = (IReadOnlyList<DetectionTarget>)batch.Targets;
        for (int i = 0; i < detections.Count; i++)
        {
            int left = 8 + i * (cell + 8);
            var truth = targets[i].Boxes.To(Engine.Device.Cpu).ToArray<float>();
            for (int b = 0; b + 3 < truth.Length; b += 4)
                drawing.Box(truth[b], truth[b + 1], truth[b + 2], truth[b + 3], left, 8, scale, new SKColor(255, 255, 255), dashed: true);
            var boxes = detections[i].Boxes.To(Engine.Device.Cpu).ToArray<float>();
            var scores = detections[i].Scores.To(Engine.Device.Cpu).ToArray<float>();
            var labels = detections[i].Labels.To(Engine.Device.Cpu).ToArray<long>();
            int shown = 0;
            for (int d = 0; d < scores.Length && shown < 5; d++)
            {
                if (scores[d] < 0.3f) continue;
                drawing.Box(boxes[4 * d], boxes[4 * d + 1], boxes[4 * d + 2], boxes[4 * d + 3], left, 8, scale, Annotator.ClassColour((int)labels[d]),
                            $"{Name(names, labels[d])} {scores[d]:F2}");
                shown++;
            }
            drawing.Text($"{shown} box(es) >= 0.30", left, 8 + cell + 14, new SKColor(60, 60, 60), 11);
        }
        return "detections with score >= 0.3 (at most 5 per image, coloured by class); dashed white: ground truth";
    }

    private static string Segmentation(Annotator drawing, Tensor predicted, TaskBatch batch, int size, int scale)
    {
        var prediction = predicted.To(Engine.Device.Cpu).ToArray<long>();
        var truth = ((Tensor)batch.Targets).To(Engine.Device.Cpu).ToArray<long>();
        int cell = size * scale, plane = size * size;
        for (int i = 0; i < prediction.Length / plane; i++)
        {
            int left = 8 + i * (2 * cell + 8);
            // The prediction over the image, the truth beside it over a copy of the image: background (0) and ignore (255) stay clear.
            drawing.Mask(prediction.AsSpan(i * plane, plane), size, size, left, 8, scale, 0.55f, 0, SegmentationTaskHead.IgnoreIndex);
            drawing.Mask(truth.AsSpan(i * plane, plane), size, size, left + cell, 8, scale, 0.55f, 0, SegmentationTaskHead.IgnoreIndex);
            drawing.Text("predicted", left, 8 + cell + 14, new SKColor(60, 60, 60), 11);
            drawing.Text("true", left + cell, 8 + cell + 14, new SKColor(60, 60, 60), 11);
        }
        return "predicted masks (left of each pair) and true masks (right), filled by class; background clear";
    }
}
