# Sanitizer and fuzzing builds (docs/hardening.md).
#
#   -DTINYLM_SANITIZE=address            ASan + LeakSanitizer (GCC or clang)
#   -DTINYLM_SANITIZE=address,undefined  ... and UBSan
#   -DTINYLM_FUZZ=ON                     libFuzzer targets of tests/fuzz
#                                        (clang only; implies
#                                        address,undefined unless set)
#
# Every target gets the flags except the sentencepiece module, which is
# loaded with dlmopen into a link-map namespace of its own (models/tokenizer.h):
# an instrumented module would need the sanitizer runtime there too, which a
# fresh namespace does not have. LibTorch, gRPC and the other system
# libraries stay uninstrumented; the runtime still checks every heap access
# our code makes.

option(TINYLM_FUZZ "Build the libFuzzer targets of tests/fuzz (clang only)" OFF)
set(TINYLM_SANITIZE "" CACHE STRING
  "Comma-separated -fsanitize= list for every target (e.g. address)")

if(TINYLM_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "TINYLM_FUZZ needs clang (libFuzzer): configure "
      "with CC=clang CXX=clang++")
  endif()
  if(NOT TINYLM_SANITIZE)
    set(TINYLM_SANITIZE "address,undefined")
  endif()
  # Coverage instrumentation for our code; the fuzz programs link the
  # libFuzzer driver itself (-fsanitize=fuzzer, tests/fuzz).
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

if(TINYLM_SANITIZE)
  # A finding must fail the run, not scroll by: UBSan aborts like ASan.
  set(TINYLM_SANITIZE_FLAGS
    -fsanitize=${TINYLM_SANITIZE} -fno-sanitize-recover=all
    -fno-omit-frame-pointer)
  # Line tables (-g1) so that reports name files and lines.
  add_compile_options(${TINYLM_SANITIZE_FLAGS} -g1)
  add_link_options(${TINYLM_SANITIZE_FLAGS})
  message(STATUS "tinylm: sanitizers ${TINYLM_SANITIZE}")
endif()

# tinylm_no_sanitize(target): drops the sanitizer and fuzzer flags again
# (for the dlmopen'd module, see above).
function(tinylm_no_sanitize target)
  foreach(property COMPILE_OPTIONS LINK_OPTIONS)
    get_target_property(options ${target} ${property})
    if(options)
      list(FILTER options EXCLUDE REGEX "^-f(no-)?sanitize")
      set_target_properties(${target} PROPERTIES ${property} "${options}")
    endif()
  endforeach()
endfunction()
