namespace Tessera.Models.Benchmarks;

public static partial class BenchSuite
{
    /// <summary>
    /// Training steps of the systems' models (<see cref="TrainStepModels"/>), each next to its
    /// PyTorch twin in tools/bench/torch_models.py; `tessera bench --json` prints their parameter counts.
    /// </summary>
    private static void AddSystemTrainSteps(List<BenchCase> cases)
    {
        (string Name, string Description, Func<Action> Prepare)[] steps =
        [
            (TrainStepModels.Swin, "training step: Swin-lite (patch 4, dims 48/96/192, depths 2/2/4, window 4, shifted windows, relative position bias), batch 32 of 3x64x64, AdamW", TrainStepModels.SwinStep),
            (TrainStepModels.TextMlm, "training step: bidirectional text tower (width 64, 2 blocks, 4 heads) + MLM head over the caption vocabulary, batch 32 x 32 tokens, AdamW", TrainStepModels.TextStep),
            (TrainStepModels.EvaStudentStep, "training step: EVA student (ViT width 48, 3 blocks, patch 4) + negative cosine to fixed teacher features on 40% masked patches, batch 48 of 3x32x32, AdamW", TrainStepModels.EvaStep),
            (TrainStepModels.Hvp, "training step: HVP-MTL pre-training (ViT width 48, 3 blocks; ASL + SwAV + SimMIM + momentum distillation, EMA teacher), batch 32 of two 3x32x32 views, AdamW", TrainStepModels.HvpStep),
        ];
        foreach (var (name, description, prepare) in steps)
            cases.Add(new BenchCase(name, description, 0, prepare, TrainStepModels.BatchOf(name), () => TrainStepModels.ParameterCount(name), TrainStepModels.WarmupSeconds));
    }
}
