#include "common/torch_pch.h"
