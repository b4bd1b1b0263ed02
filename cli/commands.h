// cli/commands.h — the commands of attnzoo, one file each (cli/list.cpp, show.cpp, run.cpp, bench.cpp, lra.cpp, lm.cpp,
// claims.cpp, generate.cpp); cli/main.cpp dispatches to them. Each takes the words after the command name, returns the exit status, and
// throws core::Error for bad input (main prints it as one line "attnzoo: ..." and exits with status 2).
#pragma once

#include <string>
#include <vector>

namespace cli {

int cmd_list(const std::vector<std::string>& words);
int cmd_show(const std::vector<std::string>& words);
int cmd_run(const std::vector<std::string>& words);
int cmd_bench(const std::vector<std::string>& words);
int cmd_lra(const std::vector<std::string>& words);
int cmd_lm(const std::vector<std::string>& words);
int cmd_claims(const std::vector<std::string>& words);
int cmd_generate(const std::vector<std::string>& words);

}  // namespace cli
