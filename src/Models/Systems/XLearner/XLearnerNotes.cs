namespace Tessera.Models.Systems.XLearner;

/// <summary>The design choices the results page states (where the paper leaves a detail open, the choice is ours).</summary>
internal static class XLearnerNotes
{
    public const string Text = """
        ## Choices where the paper leaves details open

        - **Reconciliation layers.** gamma_b = Conv1x1 + BN (channels kept); gamma_a = ReLU → Conv3x3 stride 2 (channels of layer m to those of m+1) → BN; gamma_c (X-Learner_t) = ReLU → nearest upsample ×2 → Conv3x3 → BN. Conv weights Glorot-uniform. F_i^t = E_i^t + Σ gammas(stopgrad(E_j^k)) feeds layer i+1 of task t; the expanded forward computes every group layer by layer (other groups without gradient). Top-down: the inputs E_j^k come from group k's plain path (fusing deeper layers of k that themselves depend on t would be a cycle).
        - **Schedule.** Each expansion step sees one batch of every source; the alone phase trains each sub-backbone on its own group's sources (their losses are disjoint, so one optimiser over the sum is exactly separate training up to the 1/N scale); the joint phase starts a fresh AdamW (the gammas are new) and continues the warm-up + cosine schedule of the K steps. The alone phase is shared by all X-Learner variants of a seed (it is identical for them).
        - **Squeeze.** Hints at every stage (the paper hints an output map; the downstream detector reads every stage), loss = Σ_t Σ_levels batch-mean of the per-image squared L2 norm, G^t = BN(Conv1x1). Distillation images: one batch of every pre-training source per step. Squeezed students are measured upstream through G^t and the teacher's heads.
        - **X-Learner_r.** Half width = round(width/√2) (the paper's HalfResNet); each group's alone-phase teacher is distilled into its own half-width sub-backbone, which are then joined by bottom-up reconciliation for the K − tau joint steps with new heads. The final network is the expanded half-width pair; its representation is the channel concatenation of the groups' F^t (about 1.4× the student's channels).
        - **X-Learner_p.** Unstructured global magnitude pruning (the paper cites Zhu and Gupta) over all conv weights of the expanded X-Learner (sub-backbones and gammas) down to the student's conv weight count, in R rounds with the cubic sparsity schedule while fine-tuning on every source; masks are re-applied after every update, also during the downstream fine-tune. Its representation concatenates the groups' F^t (2× the student's channels for two groups, a bias in its favour on the linear probe); its parameter count is the non-zero conv weights plus BN parameters.
        - **Downstream.** Linear probe on pooled last-stage features (standardised, L2 swept 1e-5..1e-1, chosen on a 20% hold-out); detection = the backbone plus a fresh FPN + Faster R-CNN-lite head, all fine-tuned with AdamW.
        """;
}
