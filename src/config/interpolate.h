// OmegaConf interpolation, resolved after composition: `${a.b}`, relative `${.x}` / `${..x}`, nested `${a.${b}}`,
// string interpolation `run_${seed}`, escapes `\${`, and the resolvers `now:FORMAT`, `oc.env:VAR[,default]`
// (also `env:`), `oc.select:key[,default]`, `oc.decode:text` and `hydra:KEY`. A missing key, a cycle or an unknown
// resolver throws UsageError naming the node that refers to it.
#pragma once
#include <ctime>
#include <map>
#include <string>

#include "config/node.h"

namespace vyolo {

// Values behind `${hydra:KEY}`, e.g. {"runtime.cwd": "/home/u", "job.name": "train", "job.num": "0"}.
using HydraValues = std::map<std::string, std::string>;

void resolve_interpolations(Node& root, const HydraValues& hydra = {});

// The time `${now:...}` formats: fixed at the first call, so every node and every job of a run agree.
std::time_t run_start_time();

}  // namespace vyolo
