// faultsynth TensorFlow Lite Micro application template.
//
// Build it inside a TFLM tree (TFLM sources are not shipped with faultsynth and
// this file is not compiled by the project's tests). `python cli.py export`
// copies it next to the generated fs_tflm_config.h (op resolver with exactly the
// model's operators, measured arena size) and ../c/model_data.{h,c}.
//
// The model takes the standardised, int8-quantised feature vector; use the C
// runtime's front end (fs_quantize in firmware/src) to produce it, and its
// score/threshold code (fs_window_score, fs_clip_end) on the output.
#include <cstdint>
#include <cstring>

#include "fs_tflm_config.h"
#include "model_data.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/schema/schema_generated.h"

namespace {
alignas(16) uint8_t g_arena[kFsArenaBytes];
}

// Runs one int8 feature vector through the model; returns kTfLiteOk and fills
// `out` (the reconstruction, int8, same length as the input).
TfLiteStatus FsInvoke(const int8_t* in, int8_t* out, int dim) {
  static const tflite::Model* model = tflite::GetModel(fs_model_data);
  static FsOpResolver resolver;
  static bool registered = false;
  if (!registered) {
    if (FsRegisterOps(resolver) != kTfLiteOk) return kTfLiteError;
    registered = true;
  }
  static tflite::MicroInterpreter interpreter(model, resolver, g_arena, kFsArenaBytes);
  static bool allocated = false;
  if (!allocated) {
    if (interpreter.AllocateTensors() != kTfLiteOk) return kTfLiteError;
    allocated = true;
  }
  TfLiteTensor* input = interpreter.input(0);
  if (input->bytes != static_cast<size_t>(dim)) return kTfLiteError;
  std::memcpy(input->data.int8, in, dim);
  if (interpreter.Invoke() != kTfLiteOk) return kTfLiteError;
  std::memcpy(out, interpreter.output(0)->data.int8, dim);
  return kTfLiteOk;
}
