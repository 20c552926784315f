using Tessera.Autograd;
using Tessera.Models.Data.Images;
using Tessera.Models.Data.World;
using Tessera.Models.Objectives;
using Tessera.Models.Recipes;
using Tessera.Models.Training;
using Tessera.Models.Plotting;

namespace Tessera.Models.Systems.HvpMtl;

/// <summary>HVP-MTL's figures: the four loss curves (PNG + SVG) and SimMIM reconstructions (PNG).</summary>
public static class HvpPlots
{
    /// <summary>
    /// The four losses on one plot, each smoothed over 10 steps and divided by its largest
    /// smoothed value (their scales differ by orders of magnitude, and the momentum KL starts at
    /// 0, so dividing by the start would not do); with several runs (seeds) the curves are their
    /// step-wise mean.
    /// </summary>
    public static ChartPanel LossCurves(string title, IReadOnlyList<IReadOnlyList<HvpLosses>> runs)
    {
        ArgumentNullException.ThrowIfNull(runs);
        var series = new List<PlotSeries>();
        foreach (var (name, value) in Losses)
        {
            int steps = runs.Min(r => r.Count);
            var mean = Enumerable.Range(0, steps).Select(i => runs.Average(r => value(r[i]))).ToArray();
            if (mean.Length == 0 || !double.IsFinite(mean[0])) continue;
            var smoothed = Enumerable.Range(0, steps).Select(i => mean[Math.Max(0, i - 9)..(i + 1)].Average()).ToArray();
            double peak = smoothed.Max();
            series.Add(new PlotSeries(name, smoothed.Select((v, i) => ((double)(i + 1), peak > 0 ? v / peak : v)).ToList()));
        }
        return new ChartPanel(title, "step", "loss / its maximum (10-step mean)", series, LogY: true);
    }

    /// <summary>The losses by name, with how to read each from a step's record.</summary>
    public static IReadOnlyList<(string Name, Func<HvpLosses, double> Value)> Losses { get; } =
    [
        ("multi-label (weighted ASL)", l => l.MultiLabel),
        ("contrastive (SwAV)", l => l.Contrastive),
        ("MIM (SimMIM L1)", l => l.Mim),
        ("momentum distillation (sym. KL)", l => l.Momentum),
    ];

    /// <summary>
    /// Writes a PNG with one row per test image of the pre-training source: input, masked input
    /// (masked patches grey), the decoder's output, and the output pasted into the masked region.
    /// </summary>
    public static void WriteReconstructions(string path, HvpMtlModel model, HvpMtlSettings settings, int count)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(settings);
        int size = settings.ImageSize, grid = size / settings.PatchSize, plane = size * size;
        const int zoom = 3, gap = 2, columns = 4;
        var generator = HvpMtlModel.InitStream(settings.Seed, 7);
        var masks = Enumerable.Range(0, count).Select(_ => PatchMasking.Aligned(grid, grid, Math.Max(settings.MaskRatio, 0.3f), settings.MaskBlock / settings.PatchSize, generator)).ToList();
        float[] input, output, pixelMask;
        bool training = model.Training;
        model.Eval();
        using (GradMode.NoGrad())
        using (var scope = new TensorScope())
        {
            var indices = Enumerable.Range(0, count).Select(i => (long)i).ToArray();
            using var batch = WorldBatch.Create(settings.DataSource(), "test", indices, WorldTaskSource.WorldSeed, size);
            var mask = PatchMasking.ToTensor(masks);
            var tokens = model.Encoder.Backbone.ForwardTokens(batch.Images, mask, model.Mim.MaskToken);
            input = batch.Images.ToArray<float>();
            output = model.Mim.Forward(tokens, grid, grid).Contiguous().ToArray<float>();
            pixelMask = SimMimLoss.PixelMask(mask, grid, grid, settings.PatchSize).Contiguous().ToArray<float>();
        }
        model.Train(training);
        int tile = size * zoom, width = columns * tile + (columns + 1) * gap, height = count * tile + (count + 1) * gap;
        var rgb = new byte[width * height * 3];
        Array.Fill(rgb, (byte)255);
        var norm = ImageNormalisation.Default;
        for (int b = 0; b < count; b++)
            for (int column = 0; column < columns; column++)
                for (int y = 0; y < size; y++)
                    for (int x = 0; x < size; x++)
                    {
                        bool masked = pixelMask[b * plane + y * size + x] > 0.5f;
                        for (int c = 0; c < 3; c++)
                        {
                            int i = (b * 3 + c) * plane + y * size + x;
                            float value = column switch
                            {
                                0 => input[i],
                                1 => masked ? 0f : input[i],
                                2 => output[i],
                                _ => masked ? output[i] : input[i],
                            };
                            byte level = (byte)Math.Clamp(MathF.Round((value * norm.Std[c] + norm.Mean[c]) * 255f), 0f, 255f);
                            for (int dy = 0; dy < zoom; dy++)
                                for (int dx = 0; dx < zoom; dx++)
                                {
                                    int py = gap + b * (tile + gap) + y * zoom + dy, px = gap + column * (tile + gap) + x * zoom + dx;
                                    rgb[(py * width + px) * 3 + c] = level;
                                }
                        }
                    }
        string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null) Directory.CreateDirectory(folder);
        ImageCodec.WritePng(path, rgb, width, height);
    }
}
