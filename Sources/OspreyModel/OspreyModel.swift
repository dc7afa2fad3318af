// The OspreyModel module: Osprey's multi-task neural model on OpenBLAS.
//
// Layout, bottom up:
//
// - BLAS/       the only code that sees CBLAS (`BLASScalar` for Float and Double, `OpenBLAS`
//               thread control).
// - Numerics/   parameters, reusable workspaces, the seeded generator.
// - Network/    dense layers, towers, dropout, and the three architectures (shared-bottom,
//               MMoE, single-task) behind `MultiTaskNetwork`.
// - Training/   masked per-head losses, task balancing, Adam(W), clipping, the trainer, the
//               configuration (`model.*`, `training.*`) and the whole training recipe.
// - Calibration/ Platt and temperature scaling.
// - Data/       datasets, normalisation, label derivation from the row sequence, and reading
//               a period of a file through the feature store.
// - Model/      the trained model, its scorer, and its safetensors file with metadata.
// - Metrics/    AUC-ROC, average precision, log loss, ECE, the handbook's daily top-k metrics.
// - Report/     SVG plots, the JSON report and the scoring benchmark.
