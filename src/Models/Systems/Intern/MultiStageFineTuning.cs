using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Data.World;
using Tessera.Models.Nn;
using Tessera.Models.Objectives;
using Tessera.Models.Optim;
using Tessera.Models.Recipes;
using Tessera.Models.Training;
using F = Tessera.Autograd.Functional;

namespace Tessera.Models.Systems.Intern;

/// <summary>MF scale.</summary>
/// <param name="VqSteps">VQ-GAN-lite training steps on upstream images (the "captions" source: every domain).</param>
/// <param name="HeadSteps">Stage 3: head-only steps on reconstructed downstream images (frozen backbone).</param>
/// <param name="FineTuneSteps">Stage 4: full fine-tuning steps on the original images.</param>
/// <param name="Batch">Images per step.</param>
/// <param name="MocoWeight">Weight of the MoCo sample-contrastive loss added to the task loss in stage 4 (our choice: 0.5).</param>
public sealed record MfSettings(int VqSteps, int HeadSteps, int FineTuneSteps, int Batch, float MocoWeight = 0.5f);

/// <summary>
/// Down-A's multi-stage fine-tuning on a classification suite at 10% data, and the plain
/// fine-tune it is compared with (same step counts). MF: (1) <see cref="VqGanLite"/> trained on
/// upstream images, (2) downstream images reconstructed through it, (3) a linear head trained on
/// the reconstructions with the backbone frozen, (4) the whole backbone + head fine-tuned on the
/// original images with cross-entropy + <see cref="MfSettings.MocoWeight"/> x MoCo (momentum
/// encoder m = 0.99 over the backbone, a queue of 128 keys, τ = 0.2; queries and keys are the
/// pooled image-wise features of two augmented views). Plain: (3) on the originals, (4) with
/// cross-entropy only. Both fine-tune a fresh copy of the backbone (AdamW, lr 1e-3 in stage 4).
/// </summary>
public static class MultiStageFineTuning
{
    /// <summary>Trains the VQ-GAN-lite on upstream images (stage 1); returns it and its L1 curve.</summary>
    public static (VqGanLite Model, IReadOnlyList<double> Curve) TrainVqGan(InternSettings settings, MfSettings mf, Action<string>? log)
    {
        var vq = new VqGanLite(generator: InternTasks.Stream(settings.Seed, 70));
        var captions = WorldSources.Get("captions");
        var data = new Generator(MultiTaskTrainer.Mix(settings.Seed, 71, 0));
        var curve = vq.Train(_ => WorldBatch.Create(captions, "train", Enumerable.Range(0, mf.Batch).Select(_ => (long)data.NextInt(int.MaxValue)).ToArray(),
            WorldTaskSource.WorldSeed, settings.Size).Images, mf.VqSteps, log: log is null ? null : line => log("    vq-gan: " + line.Trim()));
        return (vq, curve);
    }

    /// <summary>Test accuracy (%) on <paramref name="suite"/> after MF (<paramref name="vq"/> set) or a plain fine-tune (null), from 10% of its training data.</summary>
    public static double Run(Func<IInternBackbone> copyBackbone, Func<IInternBackbone> copyForTeacher, VqGanLite? vq, string suite, InternSettings settings, MfSettings mf, int testCount, ulong seed)
    {
        var source = WorldSources.Get(suite);
        var indices = DownstreamA.TrainIndices(source, tenPercent: true);
        var backbone = copyBackbone();
        int classes = source.ClassNames().Count;
        var head = new Linear(backbone.ShapeOf(TaskType.Classification).Channels[^1], classes, generator: InternTasks.Stream(seed, 72));
        var order = new Generator(MultiTaskTrainer.Mix(seed, 73, suite.Length));
        Tensor Pool(IInternBackbone b, Tensor images) => F.GlobalAvgPool2d(b.Forward(TaskType.Classification, images).Final).Flatten(1);
        (Tensor Images, Tensor Labels) Sample()
        {
            var ids = new long[mf.Batch];
            for (int i = 0; i < ids.Length; i++) ids[i] = indices[order.NextInt(indices.Length)];
            var batch = WorldBatch.Create(source, "train", ids, WorldTaskSource.WorldSeed, settings.Size);
            return (batch.Images, batch.Classes);
        }

        // Stage 3: the head alone on frozen features (of reconstructions for MF, originals for plain).
        var headOptimizer = new AdamW(head.Parameters(), 1e-2f, weightDecay: 1e-4f);
        backbone.Module.Eval();
        for (int step = 0; step < mf.HeadSteps; step++)
        {
            using var scope = new TensorScope();
            var (images, labels) = Sample();
            if (vq is not null) images = vq.Reconstruct(images);
            Tensor features;
            using (GradMode.NoGrad()) features = Pool(backbone, images).Detach();
            F.CrossEntropy(head.Forward(features), labels).Backward();
            headOptimizer.Step();
            headOptimizer.ZeroGrad();
        }

        // Stage 4: everything on the original images (+ MoCo for MF).
        backbone.Module.Train();
        var optimizer = new AdamW(backbone.Module.Parameters().Concat(head.Parameters()), 1e-3f, weightDecay: 1e-4f);
        MomentumTeacher<Module>? teacher = null;
        MocoContrast? moco = null;
        IInternBackbone? teacherBackbone = null;
        if (vq is not null)
        {
            teacherBackbone = copyForTeacher();
            teacher = new MomentumTeacher<Module>(backbone.Module, teacherBackbone.Module);
            moco = new MocoContrast(128, backbone.ShapeOf(TaskType.Classification).Channels[^1], 0.2f, InternTasks.Stream(seed, 74));
        }
        var views = new Generator(MultiTaskTrainer.Mix(seed, 75, suite.Length));
        for (int step = 0; step < mf.FineTuneSteps; step++)
        {
            using var scope = new TensorScope();
            var (images, labels) = Sample();
            var loss = F.CrossEntropy(head.Forward(Pool(backbone, images)), labels);
            if (moco is not null)
            {
                var (query, _) = ImageViews.Augment(images, views);
                var (key, _) = ImageViews.Augment(images, views);
                Tensor keys;
                using (GradMode.NoGrad()) keys = Pool(teacherBackbone!, key).Detach();
                loss = loss + moco.Loss(Pool(backbone, query), keys) * mf.MocoWeight;
                moco.Enqueue(keys);
            }
            loss.Backward();
            optimizer.Step();
            optimizer.ZeroGrad();
            teacher?.Update(backbone.Module, 0.99f);
        }

        // Test accuracy on the original test images (at most the split's length, as Down-A's probes).
        testCount = Math.Min(testCount, WorldGenerator.SplitLength(source, "test", WorldTaskSource.WorldSeed)!.Value);
        backbone.Module.Eval();
        int correct = 0, seen = 0;
        using (GradMode.NoGrad())
            for (int start = 0; start < testCount; start += 100)
            {
                using var scope = new TensorScope();
                var ids = Enumerable.Range(start, Math.Min(100, testCount - start)).Select(i => (long)i).ToArray();
                var batch = WorldBatch.Create(source, "test", ids, WorldTaskSource.WorldSeed, settings.Size);
                var predicted = head.Forward(Pool(backbone, batch.Images)).Argmax(1).ToArray<long>();
                var truth = batch.Classes.ToArray<long>();
                for (int i = 0; i < truth.Length; i++) correct += predicted[i] == truth[i] ? 1 : 0;
                seen += truth.Length;
            }
        return 100.0 * correct / Math.Max(1, seen);
    }
}
