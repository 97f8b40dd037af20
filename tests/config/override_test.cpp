// The override grammar: each form, each value type, sweeps and syntax errors with their column.
#include <gtest/gtest.h>

#include "common/error.h"
#include "config/node.h"
#include "config/override.h"

using namespace vyolo;

namespace {

std::string error_of(const std::string& text) {
  try {
    parse_override(text);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Override, Forms) {
  auto o = parse_override("data.hu_windows.bone.min=500");
  EXPECT_EQ(o.op, Override::Op::Set);
  EXPECT_EQ(o.key, "data.hu_windows.bone.min");
  EXPECT_EQ(o.value().type, Node::Type::Int);
  EXPECT_EQ(o.value().text, "500");

  o = parse_override("+training.extra=1");
  EXPECT_EQ(o.op, Override::Op::Add);
  EXPECT_EQ(o.key, "training.extra");
  o = parse_override("++seed=7");
  EXPECT_EQ(o.op, Override::Op::ForceAdd);
  EXPECT_EQ(o.prefix(), "++");
  o = parse_override("~logging.wandb");
  EXPECT_EQ(o.op, Override::Op::Delete);
  EXPECT_FALSE(o.has_value);
  o = parse_override("~seed=42");
  EXPECT_EQ(o.op, Override::Op::Delete);
  EXPECT_TRUE(o.has_value);
  o = parse_override("split=fold_1");
  EXPECT_EQ(o.key, "split");
  EXPECT_EQ(o.value().text, "fold_1");
  o = parse_override("model/backbone@model.net=big");
  EXPECT_EQ(o.key, "model/backbone");
  EXPECT_EQ(o.package, "model.net");
  EXPECT_EQ(o.key_with_package(), "model/backbone@model.net");
}

TEST(Override, ValueTypes) {
  auto v = [](const std::string& s) { return parse_override("a=" + s).value(); };
  EXPECT_EQ(v("42").type, Node::Type::Int);
  EXPECT_EQ(v("-3").text, "-3");
  EXPECT_EQ(v("1_000").text, "1000");
  EXPECT_EQ(v("0.5").type, Node::Type::Float);
  EXPECT_EQ(v("1e-3").text, "0.001");
  EXPECT_EQ(v("1e-5").text, "1.0e-05");
  EXPECT_EQ(v("3.").text, "3.0");
  EXPECT_EQ(v("inf").text, ".inf");
  EXPECT_EQ(v("True").type, Node::Type::Bool);
  EXPECT_EQ(v("FALSE").text, "false");
  EXPECT_TRUE(v("null").is_null());
  EXPECT_TRUE(v("NULL").is_null());
  EXPECT_EQ(v("yolov8n").type, Node::Type::String);
  // Hydra's grammar knows only true/false as booleans; `yes` is a string on the command line.
  EXPECT_EQ(v("yes").type, Node::Type::String);
  EXPECT_EQ(v("'1'").type, Node::Type::String);
  EXPECT_EQ(v("'1'").text, "1");
  EXPECT_EQ(v("\"Testing new augmentation\"").text, "Testing new augmentation");
  EXPECT_EQ(v("'it\\'s'").text, "it's");
  EXPECT_EQ(v("unquoted with spaces").text, "unquoted with spaces");
  EXPECT_EQ(v("a\\,b").text, "a,b");
  EXPECT_EQ(v("http://host:8080/x").text, "http://host:8080/x");
  EXPECT_EQ(v("${data.image_size}").text, "${data.image_size}");
  EXPECT_EQ(v("${oc.env:HOME,/tmp}").text, "${oc.env:HOME,/tmp}");
  EXPECT_EQ(parse_override("a=").value().text, "");
  EXPECT_EQ(parse_override("a=").value().type, Node::Type::String);
}

TEST(Override, ListsAndMaps) {
  auto l = parse_override("logging.wandb.tags=[yolov8,experiment1]").value();
  ASSERT_TRUE(l.is_seq());
  ASSERT_EQ(l.seq.size(), 2u);
  EXPECT_EQ(l.seq[1].text, "experiment1");
  EXPECT_TRUE(parse_override("a=[]").value().is_seq());
  auto nested = parse_override("a=[1, [2, 3], {k: v}]").value();
  ASSERT_EQ(nested.seq.size(), 3u);
  EXPECT_EQ(nested.seq[0].type, Node::Type::Int);
  EXPECT_EQ(nested.seq[1].seq[1].text, "3");
  EXPECT_EQ(nested.seq[2].find("k")->text, "v");
  auto m = parse_override("data.hu_windows={bone: {min: 500, max: 1900}, wide: null}").value();
  ASSERT_TRUE(m.is_map());
  EXPECT_EQ(find_path(m, "bone.max")->text, "1900");
  EXPECT_TRUE(m.find("wide")->is_null());
  EXPECT_EQ(parse_override("a=['x, y', \"z\"]").value().seq[0].text, "x, y");
}

TEST(Override, Sweeps) {
  auto o = parse_override("split=fold_0,fold_1,fold_2");
  EXPECT_TRUE(o.is_sweep);
  ASSERT_EQ(o.values.size(), 3u);
  EXPECT_EQ(o.value_texts[2], "fold_2");
  EXPECT_FALSE(parse_override("a=[1,2]").is_sweep);
  EXPECT_FALSE(parse_override("a='1,2'").is_sweep);
  auto c = parse_override("a=choice(1, 'x y')");
  EXPECT_TRUE(c.is_sweep);
  EXPECT_EQ(c.values[1].text, "x y");
  auto r = parse_override("training.epochs=range(1,7,2)");
  ASSERT_EQ(r.values.size(), 3u);
  EXPECT_EQ(r.value_texts[2], "5");

  auto jobs = expand_sweeps({"split=fold_0,fold_1", "seed=1", "training.lr0=0.1,0.01,0.001"});
  ASSERT_EQ(jobs.size(), 6u);
  EXPECT_EQ(jobs[0], (std::vector<std::string>{"split=fold_0", "seed=1", "training.lr0=0.1"}));
  EXPECT_EQ(jobs[1], (std::vector<std::string>{"split=fold_0", "seed=1", "training.lr0=0.01"}));
  EXPECT_EQ(jobs[5], (std::vector<std::string>{"split=fold_1", "seed=1", "training.lr0=0.001"}));
  EXPECT_EQ(expand_sweeps({"+a=x,y"})[1][0], "+a=y");
  EXPECT_EQ(expand_sweeps({}).size(), 1u);
}

TEST(Override, SyntaxErrorsNameTheColumn) {
  EXPECT_NE(error_of("a=[1,2").find("missing ']'"), std::string::npos) << error_of("a=[1,2");
  EXPECT_NE(error_of("a=[1,2").find("column 7"), std::string::npos) << error_of("a=[1,2");
  EXPECT_NE(error_of("training.lr0").find("missing '='"), std::string::npos);
  EXPECT_NE(error_of("training.lr0").find("column 13"), std::string::npos) << error_of("training.lr0");
  EXPECT_NE(error_of("a='abc").find("column 3"), std::string::npos) << error_of("a='abc");
  EXPECT_NE(error_of("a..b=1").find("column 3"), std::string::npos) << error_of("a..b=1");
  EXPECT_NE(error_of("a={k 1}").find("column"), std::string::npos) << error_of("a={k 1}");
  EXPECT_NE(error_of("a=1]").find("column 4"), std::string::npos) << error_of("a=1]");
  EXPECT_NE(error_of("a=x,").find("column 5"), std::string::npos) << error_of("a=x,");
  EXPECT_NE(error_of("a=foo(1)").find("unsupported sweep function"), std::string::npos);
  EXPECT_NE(error_of("=3").find("column 1"), std::string::npos) << error_of("=3");
  EXPECT_EQ(error_of("a.b=ok"), "");
}

TEST(Node, PythonFloatRepr) {
  EXPECT_EQ(python_float(0.001), "0.001");
  EXPECT_EQ(python_float(0.0001), "0.0001");
  EXPECT_EQ(python_float(1e-5), "1.0e-05");
  EXPECT_EQ(python_float(100.0), "100.0");
  EXPECT_EQ(python_float(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(python_float(1e16), "1.0e+16");
  EXPECT_EQ(python_float(-2.5), "-2.5");
}

TEST(Node, PlainScalarsFollowYaml11) {
  EXPECT_EQ(Node::plain("1e-3").type, Node::Type::Float);
  EXPECT_EQ(Node::plain("yes").type, Node::Type::Bool);
  EXPECT_EQ(Node::plain("0x10").text, "16");
  EXPECT_EQ(Node::plain("val/map_50").type, Node::Type::String);
  EXPECT_TRUE(Node::plain("~").is_null());
  // A string that reads as another type is quoted when written, as PyYAML does.
  Node m = Node::empty_map();
  m.get_or_add("a") = Node::string("1");
  m.get_or_add("b") = Node::plain("1");
  m.get_or_add("c") = Node::string("true");
  m.get_or_add("d") = Node::string("");
  m.get_or_add("e") = Node::string("a: b");
  m.get_or_add("f") = Node::string("2026-11-26");  // a date to PyYAML
  m.get_or_add("g") = Node::string("y");           // a bool to OmegaConf's writer
  m.get_or_add("h") = Node::string("nan");         // a float to Python
  m.get_or_add("i") = Node::string("1.5.2");
  EXPECT_EQ(to_yaml_string(m), "a: '1'\nb: 1\nc: 'true'\nd: ''\ne: 'a: b'\nf: '2026-11-26'\ng: 'y'\nh: 'nan'\n"
                               "i: 1.5.2\n");
  // ...and reads back as the same types.
  EXPECT_EQ(load_yaml_string(to_yaml_string(m), "t"), m);
}

TEST(Node, WriterLayout) {
  Node n = load_yaml_string("a:\n  b: [1, 2]\n  c: {}\n  d: []\nl:\n- x: 1\n  y: [p, q]\n- - 1\n  - 2\n", "t");
  EXPECT_EQ(to_yaml_string(n), "a:\n  b:\n  - 1\n  - 2\n  c: {}\n  d: []\nl:\n- x: 1\n  y:\n  - p\n  - q\n- - 1\n  - 2\n");
}

TEST(Node, DidYouMean) {
  std::vector<std::string> keys{"training.lr0", "training.lrf", "training.epochs", "data.image_size", "seed"};
  auto near = closest("training.lr", keys);
  ASSERT_GE(near.size(), 2u);
  EXPECT_EQ(near[0], "training.lr0");
  EXPECT_EQ(closest("training.image_size", keys).at(0), "data.image_size");
  EXPECT_TRUE(closest("completely.unrelated.thing", keys).empty());
}

TEST(Node, YamlMergeKeys) {
  Node n = load_yaml_string("base: &b {x: 1, y: 2}\nother: &o {y: 5, z: 6}\nd:\n  <<: [*b, *o]\n  x: 3\n", "t");
  const Node* d = find_path(n, "d");
  ASSERT_TRUE(d && d->is_map());
  EXPECT_EQ(find_path(n, "d.x")->text, "3");  // own keys win
  EXPECT_EQ(find_path(n, "d.y")->text, "2");  // the first merged map wins over later ones
  EXPECT_EQ(find_path(n, "d.z")->text, "6");
  EXPECT_EQ(d->find("<<"), nullptr);
}

// Issue 17 (malformed inputs): 100 kB overrides and YAML are errors with a short message, never a stack overflow
// (std::regex and the recursive parsers used to recurse once per character or level).
TEST(Override, HundredKilobyteValuesAreTypedOrRefused) {
  const std::string big(100000, 'a');
  EXPECT_EQ(parse_override("data.view=" + big).value().text, big);
  const auto f = parse_override("training.lr0=0." + std::string(100000, '1'));
  EXPECT_EQ(f.value().type, Node::Type::Float);
  EXPECT_EQ(f.value().text, "0.1111111111111111");
  for (const std::string bad : {"seed=" + std::string(100000, '9'), std::string("seed=99999999999999999999"),
                                "seed=" + std::string(50000, '[') + std::string(50000, ']'),
                                "+x=" + std::string(30000, '{') + std::string(30000, '}')}) {
    const std::string e = error_of(bad);
    EXPECT_NE(e, "") << bad.substr(0, 40);
    EXPECT_LT(e.size(), 600u) << e.substr(0, 600);
    EXPECT_NE(e.find(bad.substr(0, 4)), std::string::npos) << e;
  }
  EXPECT_NE(error_of("seed=" + std::string(300, '[') + std::string(300, ']')).find("nest deeper than 64"),
            std::string::npos);
  EXPECT_EQ(error_of("seed=" + std::string(60, '[') + std::string(60, ']')), "");
}

TEST(Node, AliasBombsDeepNestingAndHugeScalarsAreErrorsOrValues) {
  std::string bomb = "l0: &l0 [a, a, a, a, a, a, a, a, a]\n";
  for (int i = 1; i <= 9; ++i) {
    bomb += "l" + std::to_string(i) + ": &l" + std::to_string(i) + " [";
    for (int k = 0; k < 9; ++k) bomb += std::string(k ? ", " : "") + "*l" + std::to_string(i - 1);
    bomb += "]\n";
  }
  try {
    load_yaml_string(bomb, "bomb.yaml");
    FAIL() << "an alias bomb was expanded";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("bomb.yaml: the YAML expands to more than"), std::string::npos) << e.what();
  }
  try {
    load_yaml_string("x: " + std::string(10000, '[') + std::string(10000, ']') + "\n", "deep.yaml");
    FAIL() << "10,000 levels were accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("deep.yaml:1:"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("nested deeper than"), std::string::npos) << e.what();
  }
  EXPECT_EQ(Node::plain(std::string(100000, '7')).type, Node::Type::Int);
  EXPECT_EQ(Node::plain("1." + std::string(100000, '5')).type, Node::Type::Float);
  EXPECT_EQ(Node::plain(std::string(100000, 'x')).type, Node::Type::String);
}
