namespace Tessera.Models.Experiments;

/// <summary>One claim a paper makes that its Tessera experiment checks, with the paper's own figure for it.</summary>
public sealed record CatalogueClaim(string Claim, string Paper);

/// <summary>
/// A system of the five papers as the results ledger lists it: which paper, which command measures
/// it, and the claims its experiment is to check. The ledger shows these claims as "not yet run"
/// until the system's experiment has written its <c>docs/results/NAME.json</c>; from then on the
/// claims in that file (judged by <see cref="ClaimRule"/>) replace them.
/// </summary>
/// <param name="System">The experiment's name (the JSON file's name and <see cref="ExperimentRecord.System"/>).</param>
/// <param name="PaperNumber">The paper's number in shared/papers (000..004): the ledger's order.</param>
/// <param name="Title">The paper's short name.</param>
/// <param name="Command">The command that runs the experiment.</param>
/// <param name="Claims">The claims its issue asks the experiment to check.</param>
public sealed record CatalogueSystem(string System, int PaperNumber, string Title, string Command, IReadOnlyList<CatalogueClaim> Claims);

/// <summary>
/// The claims of the five papers that Tessera reproduces, taken from the issues that asked for each
/// system (INTERN: issue 12, HVP-MTL: 13, EVA: 14, GPPF and X-Learner: 7 and 20). Only the wording
/// and the paper's figures live here; verdicts come from the experiments' JSON files.
/// </summary>
public static class ClaimCatalogue
{
    private static string Command(string system) => $"dotnet run --project src/Cli -c Release -- experiment {system}";

    public static IReadOnlyList<CatalogueSystem> Systems { get; } =
    [
        new("intern", 0, "INTERN", Command("intern"),
        [
            new("Up-A < Up-E < Up-G on average downstream (10% data)", "R50, 10% data, CLS-AVG: Up-A 70.9, Up-E 73.7, Up-G 74.3"),
            new("Up-G matches each expert on its own task type", "Table 2: Up-G (C-D) keeps Up-E (C)'s classification and Up-E (D)'s detection (CLS-AVG 74.3, +0.6; VOC-DET 87.7)"),
            new("Up-G beats the experts on a dense task none of them trained on", "Table 4: Up-G (C-D) VOC-SEG 66.2 mIoU, KITTI 2.84 RMSE; Up-E (C) and Up-E (D) alone lag behind"),
            new("KTMs beat hard sharing alone", "Up-G's knowledge-transfer modules vs the same branches without them (§ Up-G)"),
            new("Up-G with 10% downstream data beats supervised with 100%", "Table 1: CLS-AVG 74.3 (Up-G R50, 10%) vs 73.0 (ImageNet supervised, 100%)"),
            new("Multi-stage fine-tuning (MF) beats a plain fine-tune at 10% data", "Tab. 24: +4.2 average accuracy on the classification suite"),
        ]),
        new("gppf", 1, "GPPF", Command("gppf"),
        [
            new("Joint static (SIMT + SyncBN) beats single-task training on average", "Table 1: every task higher, e.g. COCO box 48.8 vs 46.8, IN21K 40.2 vs 35.8"),
            new("DyNet N=2 beats the static backbone on average", "Table 1: +0.98 detection, +0.8 instance segmentation, +0.4 classification"),
            new("N=3 brings no further gain over N=2", "Table 1: N=2 49.7 / 34.0 / 40.6 vs N=3 49.1 / 33.3 / 40.6 (COCO box, LVIS box, IN21K)"),
            new("SIMT beats one task per batch", "Table 1: one task per batch did not converge"),
            new("SyncBN beats local BN under SIMT", "Table 1: SIMT without SyncBN did not converge"),
            new("Routes converge to near one-hot", "Fig. 11: probabilities converge once tau decays"),
            new("All tasks share the stem unit", "Appendix, Fig. 10-11: all tasks share the stem layer (N=2, N=3, Swin)"),
            new("The extracted argmax path equals argmax routing", "§3: the task's path is extracted as a plain network"),
            new("Fixed-path finetuning beats scratch", "Table 4: KITTI AbsRel 0.057-0.060 vs 0.110; Table 6: IN-1K 79.18 vs 78.12"),
            new("Dynamic finetuning beats scratch", "Table 4: 0.065 vs 0.110; Table 6: 79.04 vs 78.12"),
        ]),
        new("hvp-mtl", 2, "HVP-MTL", Command("hvp-mtl"),
        [
            new("All four losses fall together in joint training", "§3: multi-label, SwAV, SimMIM and momentum distillation trained jointly"),
            new("Weighted ASL beats BCE on noisy tags (mAP vs clean labels)", "§3.1: the weighted asymmetric loss for noisy multi-label data"),
            new("Momentum distillation helps under label noise (also at a higher noise rate)", "Table 5: 84.2 vs 83.9 without it"),
            new("Pre-trained beats scratch after fine-tuning", "Tables 1-4: pre-trained ViT-B / Swin-B above their from-scratch and supervised baselines"),
            new("Each loss helps: the full model beats every leave-one-out ablation", "Table 5: 84.2; w/o ML 83.6, w/o MIM 83.8, w/o MD 83.9, w/o CL 84.1"),
            new("Ablation order: multi-label matters most, contrastive least", "Table 5: −0.6 (ML), −0.4 (MIM), −0.3 (MD), −0.1 (CL)"),
        ]),
        new("eva", 3, "EVA", Command("eva"),
        [
            new("Masked-patch cosine to the teacher rises without collapse", "§2.2: MIM of CLIP features with negative-cosine loss trains stably"),
            new("Feature MIM beats feature distillation as pre-training grows", "Table 2 (pilot): FD gives no consistent gain with longer pre-training, MIM does"),
            new("EVA beats scratch after fine-tuning", "§2.3: EVA-pretrained ViT above training from scratch"),
            new("EVA beats its teacher's image tower after fine-tuning", "Table 2: EVA's MIM target exceeds the CLIP teacher it learns from"),
            new("EVA init makes CLIP train faster (lower loss for the same steps)", "§2.3.5: CLIP training is accelerated with EVA init"),
            new("EVA-CLIP reaches higher zero-shot top-1 than CLIP from scratch", "Table 10: EVA-CLIP 78.2 IN-1K zero-shot, above Open CLIP trained from scratch"),
        ]),
        new("xlearner", 4, "X-Learner", Command("xlearner"),
        [
            new("X-Learner beats hard sharing downstream (AVG Cls)", "Table 6: AVG Cls 77.1 vs 73.2"),
            new("X-Learner beats hard sharing on detection transfer", "Table 6: PASCAL Det 84.4 vs 83.7"),
            new("The squeezed student beats the single-source baseline (AVG Cls)", "Table 2: 77.1 vs 74.4 (ImageNet supervised)"),
            new("Reconciliation helps: X-Learner beats w/o Rec (AVG Cls)", "Table 5: 77.1 vs 74.8"),
            new("Expand → squeeze beats squeeze → expand (X-Learner_r), AVG Cls", "Table 6: 77.1 vs 73.9"),
            new("Bottom-up beats top-down (X-Learner_t), AVG Cls", "Table 6: 77.1 vs 74.5"),
            new("Pruning (X-Learner_p) is about as good as distillation (within 2 points AVG Cls)", "Table 6: 77.2 vs 77.1"),
            new("Out-of-domain sources hurt hard sharing upstream more than X-Learner", "Table 3: mean base upstream −1.1 (hard sharing) vs −0.2 (X-Learner)"),
        ]),
    ];

    /// <summary>
    /// The paper's figure for a catalogued claim, so that an experiment and the ledger word a claim
    /// the same way; a claim the catalogue lacks is an error naming it (keep the two in step).
    /// </summary>
    public static string Paper(string system, string claim)
    {
        var entry = Find(system) ?? throw new ArgumentException($"claim catalogue: unknown system '{system}'; expected one of {string.Join(", ", Systems.Select(s => s.System))}", nameof(system));
        return entry.Claims.FirstOrDefault(c => c.Claim == claim)?.Paper
            ?? throw new ArgumentException($"claim catalogue: system '{system}' has no claim \"{claim}\"; expected one of: {string.Join(" | ", entry.Claims.Select(c => c.Claim))}", nameof(claim));
    }

    /// <summary>The catalogue entry of a system, or null for one the catalogue does not know.</summary>
    public static CatalogueSystem? Find(string system) =>
        Systems.FirstOrDefault(s => string.Equals(s.System, system, StringComparison.OrdinalIgnoreCase));
}
