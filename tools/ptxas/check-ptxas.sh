#!/usr/bin/env bash
# Offline GPU validation: fetches ptxas if needed, then assembles every registered kernel for
# sm_80 and sm_90 and prints registers / spills / shared memory per kernel. An error or a spill
# fails. Usage (also from CI): bash tools/ptxas/check-ptxas.sh
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo_root"
bash tools/ptxas/fetch-ptxas.sh
dotnet test tests/Tessera.Tests -c Release --filter "FullyQualifiedName~Tessera.Tests.Gpu.PtxasTests" --logger "console;verbosity=detailed"
