// What `tinylm --help` and `tinylm --version` print.
#ifndef TINYLM_CLIENT_HELP_H_
#define TINYLM_CLIENT_HELP_H_

#include <string>

namespace tinylm {

// Synopsis, subcommands, every flag with its default and meaning, and the
// exit codes.
std::string HelpText();

// "tinylm 0.1.0 (commit 1a2b3c4)": the project's version and the commit
// the build was configured from ("unknown" outside a git checkout).
std::string VersionText();

}  // namespace tinylm

#endif  // TINYLM_CLIENT_HELP_H_
