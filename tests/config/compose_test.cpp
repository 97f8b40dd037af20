// Composition (defaults lists, groups, packages), struct-mode overrides and their errors, and interpolation.
#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <random>

#include "common/error.h"
#include "config/compose.h"
#include "config/interpolate.h"
#include "config/override.h"

using namespace vyolo;
namespace fs = std::filesystem;

namespace {

class TempTree : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("vyolo_compose_" + std::to_string(rd()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const std::string& rel, const std::string& text) {
    fs::create_directories((dir_ / rel).parent_path());
    std::ofstream(dir_ / rel) << text;
  }
  Composed run(const std::vector<std::string>& overrides, const std::string& command_keys = "") {
    return compose({dir_, "config", command_keys}, overrides);
  }
  std::string error_of(const std::vector<std::string>& overrides, const std::string& command_keys = "") {
    try {
      run(overrides, command_keys);
    } catch (const UsageError& e) {
      return e.what();
    }
    return "";
  }
  std::string at(const Composed& c, const std::string& key) {
    const Node* n = find_path(c.tree, key);
    return n ? (n->is_scalar() ? n->text : n->type_name()) : "<missing>";
  }
  fs::path dir_;
};

std::string resolve_error(Node tree) {
  try {
    resolve_interpolations(tree);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_F(TempTree, DefaultsListSelfLastAndMergeRules) {
  write("config.yaml", "defaults:\n  - db: mysql\n  - _self_\ndb:\n  port: 1\n  list: [9]\ntop: x\n");
  write("db/mysql.yaml", "host: a\nport: 3306\nlist: [1, 2]\nopts: {x: 1, y: 2}\n");
  auto c = run({});
  EXPECT_EQ(at(c, "db.host"), "a");
  EXPECT_EQ(at(c, "db.port"), "1");  // the primary config (_self_ last) wins
  ASSERT_EQ(find_path(c.tree, "db.list")->seq.size(), 1u);  // lists replace, not append
  EXPECT_EQ(at(c, "db.list.0"), "9");
  EXPECT_EQ(c.tree.map[0].first, "db");
  EXPECT_EQ(c.tree.map[1].first, "top");
  EXPECT_EQ(c.tree.find("defaults"), nullptr);
  ASSERT_EQ(c.choices.size(), 1u);
  EXPECT_EQ(c.choices[0], (std::pair<std::string, std::string>{"db", "mysql"}));
}

TEST_F(TempTree, SelfFirstLetsGroupsWin) {
  write("config.yaml", "defaults:\n  - _self_\n  - db: mysql\ndb:\n  port: 1\n");
  write("db/mysql.yaml", "port: 3306\n");
  EXPECT_EQ(at(run({}), "db.port"), "3306");
}

TEST_F(TempTree, NoSelfMeansSelfLast) {
  write("config.yaml", "defaults:\n  - db: mysql\ndb:\n  port: 1\n");
  write("db/mysql.yaml", "port: 3306\n");
  EXPECT_EQ(at(run({}), "db.port"), "1");
}

TEST_F(TempTree, NullAndOptionalEntries) {
  write("config.yaml", "defaults:\n  - db: null\n  - optional extra: absent\n  - _self_\na: 1\n");
  write("db/mysql.yaml", "port: 3306\n");
  auto c = run({});
  EXPECT_EQ(c.tree.find("db"), nullptr);
  EXPECT_EQ(c.tree.find("extra"), nullptr);
  EXPECT_EQ(at(run({"db=mysql"}), "db.port"), "3306");  // a null default can be selected later
}

TEST_F(TempTree, GroupOverrides) {
  write("config.yaml", "defaults:\n  - db: mysql\n  - _self_\n");
  write("db/mysql.yaml", "port: 3306\n");
  write("db/postgres.yaml", "port: 5432\n");
  write("extra/a.yaml", "v: 1\n");
  EXPECT_EQ(at(run({"db=postgres"}), "db.port"), "5432");
  EXPECT_EQ(run({"~db"}).tree.find("db"), nullptr);
  EXPECT_EQ(run({"db=null"}).tree.find("db"), nullptr);
  auto c = run({"+extra=a"});
  EXPECT_EQ(at(c, "extra.v"), "1");
  EXPECT_EQ(c.choices.back().first, "extra");
  EXPECT_EQ(at(run({"++extra=a"}), "extra.v"), "1");
  EXPECT_EQ(at(run({"++db=postgres"}), "db.port"), "5432");
  EXPECT_EQ(at(run({"db=[mysql,postgres]"}), "db.port"), "5432");  // several options merge in order

  auto missing = error_of({"db=oracle"});
  EXPECT_NE(missing.find("Could not find 'db/oracle'"), std::string::npos) << missing;
  EXPECT_NE(missing.find("Available options in 'db': mysql, postgres"), std::string::npos) << missing;
  EXPECT_NE(error_of({"extra=a"}).find("+extra=a"), std::string::npos) << error_of({"extra=a"});
  EXPECT_NE(error_of({"+db=postgres"}).find("already"), std::string::npos);
}

TEST_F(TempTree, MissingOptionInDefaultsListIsAnError) {
  write("config.yaml", "defaults:\n  - split: fold_9\n");
  write("split/fold_0.yaml", "fold_id: 0\n");
  write("split/fold_1.yaml", "fold_id: 1\n");
  auto e = error_of({});
  EXPECT_NE(e.find("split/fold_9"), std::string::npos) << e;
  EXPECT_NE(e.find("fold_0, fold_1"), std::string::npos) << e;
}

TEST_F(TempTree, NestedDefaultsPackagesAndHeaders) {
  write("config.yaml", "defaults:\n  - model: big\n  - db@backup: mysql\n  - glob: g\n  - _self_\n");
  write("model/big.yaml", "defaults:\n  - backbone: resnet\n  - _self_\ndepth: 3\n");
  write("model/backbone/resnet.yaml", "layers: 50\n");
  write("db/mysql.yaml", "port: 3306\n");
  write("glob/g.yaml", "# @package _global_\nglobal_key: 1\n");
  auto c = run({});
  EXPECT_EQ(at(c, "model.depth"), "3");
  EXPECT_EQ(at(c, "model.backbone.layers"), "50");
  EXPECT_EQ(at(c, "backup.port"), "3306");
  EXPECT_EQ(at(c, "global_key"), "1");
  EXPECT_EQ(c.tree.find("glob"), nullptr);
  write("model/backbone/vit.yaml", "patches: 16\n");
  EXPECT_EQ(at(run({"model/backbone=vit"}), "model.backbone.patches"), "16");
}

TEST_F(TempTree, OverrideKeywordInDefaults) {
  write("config.yaml", "defaults:\n  - db: mysql\n  - exp: fast\n  - _self_\n");
  write("db/mysql.yaml", "port: 3306\n");
  write("db/postgres.yaml", "port: 5432\n");
  write("exp/fast.yaml", "# @package _global_\ndefaults:\n  - override /db: postgres\nfast: true\n");
  auto c = run({});
  EXPECT_EQ(at(c, "db.port"), "5432");
  EXPECT_EQ(at(run({"db=mysql"}), "db.port"), "3306");  // the command line wins over the file
}

TEST_F(TempTree, HydraSectionIsSetAside) {
  write("config.yaml", "defaults:\n  - override hydra/job_logging: disabled\n  - _self_\n"
                       "hydra:\n  run:\n    dir: outputs/x\na: 1\n");
  auto c = run({"hydra.run.dir=elsewhere", "hydra/launcher=basic"});
  EXPECT_EQ(c.tree.find("hydra"), nullptr);
  EXPECT_EQ(c.hydra_overrides.size(), 2u);
  EXPECT_EQ(at(c, "a"), "1");
}

TEST_F(TempTree, StructModeOverrides) {
  write("config.yaml",
        "training:\n  lr0: 0.001\n  lrf: 0.01\n  epochs: 100\n  optimizer: AdamW\n  cos_lr: false\n"
        "data:\n  hu:\n    bone: {min: 400, max: 1800}\n  names: [fracture]\nname: null\n");
  auto c = run({"training.lr0=0.01", "training.epochs=5", "training.lr0=1", "training.cos_lr=true",
                "data.names=[a,b]", "data.hu={bone: {min: 500}}", "name=run 1", "+training.extra=[1]",
                "++training.lrf=0.2", "++new.key=x", "~training.optimizer"});
  EXPECT_EQ(at(c, "training.lr0"), "1");
  EXPECT_EQ(find_path(c.tree, "training.lr0")->type, Node::Type::Int);  // kept as typed, as Hydra does
  EXPECT_EQ(at(c, "training.epochs"), "5");
  EXPECT_EQ(at(c, "training.cos_lr"), "true");
  EXPECT_EQ(find_path(c.tree, "data.names")->seq.size(), 2u);
  EXPECT_EQ(at(c, "data.hu.bone.min"), "500");
  EXPECT_EQ(at(c, "data.hu.bone.max"), "1800");  // maps merge
  EXPECT_EQ(at(c, "name"), "run 1");
  EXPECT_EQ(at(c, "training.extra.0"), "1");
  EXPECT_EQ(at(c, "training.lrf"), "0.2");
  EXPECT_EQ(at(c, "new.key"), "x");
  EXPECT_EQ(at(c, "training.optimizer"), "<missing>");

  auto unknown = error_of({"training.lr=0.1"});
  EXPECT_NE(unknown.find("'training.lr'"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("did you mean training.lr0, training.lrf"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("+training.lr=0.1"), std::string::npos) << unknown;
  auto deep = error_of({"data.hu.bone.mn=3"});
  EXPECT_NE(deep.find("data.hu.bone.min"), std::string::npos) << deep;
  EXPECT_NE(error_of({"+training.lr0=1"}).find("already"), std::string::npos);
  EXPECT_NE(error_of({"~training.nothing"}).find("training.nothing"), std::string::npos);
  EXPECT_NE(error_of({"~training.epochs=7"}).find("100"), std::string::npos);
  EXPECT_EQ(run({"~training.epochs=100"}).tree.find("training")->find("epochs"), nullptr);

  auto type = error_of({"training.epochs=abc"});
  EXPECT_NE(type.find("Type mismatch for 'training.epochs'"), std::string::npos) << type;
  EXPECT_NE(error_of({"training.epochs=1.5"}).find("Type mismatch"), std::string::npos);
  EXPECT_NE(error_of({"training.lr0=fast"}).find("Type mismatch"), std::string::npos);
  EXPECT_NE(error_of({"training.cos_lr=maybe"}).find("Type mismatch"), std::string::npos);
  EXPECT_NE(error_of({"data.names=x"}).find("Type mismatch"), std::string::npos);
  EXPECT_NE(error_of({"training=3"}).find("Type mismatch"), std::string::npos);
  EXPECT_EQ(error_of({"training.epochs='12'"}), "");        // a quoted number still converts
  EXPECT_EQ(error_of({"training.optimizer=123"}), "");      // anything fits a string
  EXPECT_EQ(error_of({"name=[1,2]"}), "");                  // a null default takes anything
  EXPECT_EQ(error_of({"training.epochs=${training.lr0}"}), "");

  auto ambiguous = error_of({"training.epochs=1,2"});
  EXPECT_NE(ambiguous.find("Ambiguous value"), std::string::npos) << ambiguous;
  EXPECT_NE(ambiguous.find("--multirun"), std::string::npos) << ambiguous;
}

TEST_F(TempTree, CommandKeysShadowGroups) {
  write("config.yaml", "defaults:\n  - data: yolo\n  - _self_\nseed: 1\n");
  write("data/yolo.yaml", "image_size: 256\n");
  const std::string keys = "data: null\nweights: null\nconf: 0.25\n";
  auto c = run({"data=/some/dir", "weights=best.safetensors", "conf=0.5"}, keys);
  EXPECT_EQ(at(c, "data"), "/some/dir");
  EXPECT_EQ(at(c, "weights"), "best.safetensors");
  EXPECT_EQ(at(c, "conf"), "0.5");
  EXPECT_NE(error_of({"weight=x"}, keys).find("did you mean weights"), std::string::npos) << error_of({"weight=x"}, keys);
  EXPECT_NE(error_of({"weights=x"}).find("weights"), std::string::npos);  // unknown without the command's keys
}

TEST_F(TempTree, MalformedYamlNamesFileAndLine) {
  write("config.yaml", "defaults:\n  - db: mysql\n");
  write("db/mysql.yaml", "port: 3306\nhosts: [a, b\nuser: x\n");
  auto e = error_of({});
  EXPECT_NE(e.find("mysql.yaml:"), std::string::npos) << e;
  EXPECT_NE(e.find("malformed YAML"), std::string::npos) << e;
  EXPECT_NE(e.find(":3:"), std::string::npos) << e;
}

TEST_F(TempTree, MissingPrimaryConfig) {
  write("other.yaml", "a: 1\n");
  auto e = error_of({});
  EXPECT_NE(e.find("Cannot find primary config 'config'"), std::string::npos) << e;
  EXPECT_NE(e.find("other"), std::string::npos) << e;
  EXPECT_EQ(at(compose({dir_, "other.yaml", ""}, {}), "a"), "1");
}

TEST(Interpolation, KeysRelativeNestedAndStrings) {
  Node t = load_yaml_string(
      "data:\n  image_size: 256\n  view: axial\nmodel:\n  img_size: ${data.image_size}\n"
      "  copy: ${.img_size}\n  up: ${..data.view}\nname: run_${data.view}_${data.image_size}\n"
      "which: view\npicked: ${data.${which}}\nsection: ${data}\nescaped: \\${data.view}\n"
      "flag: true\nflag_text: f=${flag}\nratio: ${ratio_src}\nratio_src: 0.5\n",
      "t");
  resolve_interpolations(t);
  EXPECT_EQ(find_path(t, "model.img_size")->text, "256");
  EXPECT_EQ(find_path(t, "model.img_size")->type, Node::Type::Int);  // a lone interpolation keeps the type
  EXPECT_EQ(find_path(t, "model.copy")->text, "256");
  EXPECT_EQ(find_path(t, "model.up")->text, "axial");
  EXPECT_EQ(find_path(t, "name")->text, "run_axial_256");
  EXPECT_EQ(find_path(t, "picked")->text, "axial");
  EXPECT_EQ(find_path(t, "section.view")->text, "axial");
  EXPECT_EQ(find_path(t, "escaped")->text, "${data.view}");
  EXPECT_EQ(find_path(t, "flag_text")->text, "f=True");
  EXPECT_EQ(find_path(t, "ratio")->type, Node::Type::Float);
}

TEST(Interpolation, Resolvers) {
  ::setenv("VYOLO_TEST_VAR", "from_env", 1);
  ::unsetenv("VYOLO_TEST_UNSET");
  Node t = load_yaml_string(
      "a: ${oc.env:VYOLO_TEST_VAR}\nb: ${oc.env:VYOLO_TEST_UNSET,fallback}\nc: ${oc.env:VYOLO_TEST_UNSET,null}\n"
      "d: ${env:VYOLO_TEST_VAR}\nyear: ${now:%Y}\ndir: out/${now:%Y-%m-%d}/${now:%H-%M-%S}\n"
      "job: ${hydra:job.name}\nsel: ${oc.select:nope,7}\ndec: ${oc.decode:'[1, 2]'}\n",
      "t");
  resolve_interpolations(t, {{"job.name", "train"}});
  EXPECT_EQ(find_path(t, "a")->text, "from_env");
  EXPECT_EQ(find_path(t, "b")->text, "fallback");
  EXPECT_TRUE(find_path(t, "c")->is_null());
  EXPECT_EQ(find_path(t, "d")->text, "from_env");
  std::time_t now = run_start_time();
  std::tm tm{};
  localtime_r(&now, &tm);
  EXPECT_EQ(find_path(t, "year")->text, std::to_string(tm.tm_year + 1900));
  EXPECT_EQ(find_path(t, "dir")->text.size(), std::string("out/2026-01-01/12-00-00").size());
  EXPECT_EQ(find_path(t, "job")->text, "train");
  EXPECT_EQ(find_path(t, "sel")->text, "7");
  EXPECT_EQ(find_path(t, "dec")->seq.size(), 2u);
}

TEST(Interpolation, ErrorsNameTheNode) {
  auto missing = resolve_error(load_yaml_string("a:\n  b: ${nope.x}\n", "t"));
  EXPECT_NE(missing.find("'a.b'"), std::string::npos) << missing;
  EXPECT_NE(missing.find("'nope.x' not found"), std::string::npos) << missing;
  auto cycle = resolve_error(load_yaml_string("a: ${b}\nb: ${c}\nc: ${a}\n", "t"));
  EXPECT_NE(cycle.find("cycle"), std::string::npos) << cycle;
  EXPECT_NE(cycle.find("a -> b -> c -> a"), std::string::npos) << cycle;
  auto self = resolve_error(load_yaml_string("a:\n  b: ${a}\n", "t"));
  EXPECT_NE(self.find("cycle"), std::string::npos) << self;
  ::unsetenv("VYOLO_TEST_UNSET");
  auto env = resolve_error(load_yaml_string("a: ${oc.env:VYOLO_TEST_UNSET}\n", "t"));
  EXPECT_NE(env.find("VYOLO_TEST_UNSET"), std::string::npos) << env;
  auto resolver = resolve_error(load_yaml_string("a: ${bogus:1}\n", "t"));
  EXPECT_NE(resolver.find("Unsupported interpolation type 'bogus'"), std::string::npos) << resolver;
  auto unterminated = resolve_error(load_yaml_string("a: ${b\nb: 1\n", "t"));
  EXPECT_NE(unterminated.find("unterminated"), std::string::npos) << unterminated;
}

// Issue 17: interpolations nested 7,000 deep (a 100 kB override) stop at a bound instead of overflowing the stack, and
// a 100 kB interpolation key is looked up without std::regex.
TEST(Interpolation, DeepNestingAndHugeKeysAreErrors) {
  std::string nested;
  for (int i = 0; i < 7000; ++i) nested += "${oc.decode:";
  nested += "1" + std::string(7000, '}');
  Node t = Node::empty_map();
  t.map.emplace_back("seed", Node::string(nested));
  try {
    resolve_interpolations(t);
    FAIL() << "7,000 nested interpolations resolved";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("nested or chained deeper than"), std::string::npos) << e.what();
    EXPECT_LT(std::string(e.what()).size(), 1000u);
  }
  std::string key;
  for (int i = 0; i < 50000; ++i) key += "a.";
  Node u = Node::empty_map();
  u.map.emplace_back("seed", Node::string("${" + key + "b}"));
  try {
    resolve_interpolations(u);
    FAIL() << "a missing key resolved";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("not found"), std::string::npos) << e.what();
  }
}
