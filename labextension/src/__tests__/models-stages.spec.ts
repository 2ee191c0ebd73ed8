import {
  isStage,
  isTransitionAllowed,
  needsConfirm,
  promotionNotice,
  STAGE_BUTTON_LABELS,
  stageTargets
} from '../models/stages';
import {
  conversionTargets,
  convertBody,
  DEFAULT_TOLERANCES,
  defaultConvertDraft,
  defaultEvaluateDraft,
  evaluateBody,
  isDatasetRef,
  registerDraft
} from '../models/forms';

describe('stage transitions', () => {
  it('allows any move to another stage', () => {
    expect(isTransitionAllowed('none', 'production')).toBe(true);
    expect(isTransitionAllowed('archived', 'staging')).toBe(true);
    expect(isTransitionAllowed('production', 'archived')).toBe(true);
    expect(isTransitionAllowed('production', 'production')).toBe(false);
    expect(isTransitionAllowed('none', 'deployed')).toBe(false);
    expect(isStage('staging')).toBe(true);
    expect(isStage('Production')).toBe(false);
  });

  it('offers the buttons of the other stages, in order', () => {
    expect(stageTargets('none')).toEqual(['staging', 'production', 'archived']);
    expect(stageTargets('staging')).toEqual(['production', 'archived']);
    expect(stageTargets('production')).toEqual(['staging', 'archived']);
    expect(stageTargets('archived')).toEqual(['staging', 'production']);
    expect(STAGE_BUTTON_LABELS.production).toBe('Promote to production');
  });

  it('says which version a promotion archives', () => {
    expect(promotionNotice(3, 1)).toBe('moves v1 to archived');
    expect(promotionNotice(3, 3)).toBeNull();
    expect(promotionNotice(3, null)).toBeNull();
    expect(needsConfirm('production')).toBe(true);
    expect(needsConfirm('staging')).toBe(false);
  });
});

describe('Convert dialog', () => {
  it('offers the targets that fit the source format', () => {
    expect(conversionTargets('pytorch-state-dict')).toEqual([
      'onnx',
      'torchscript'
    ]);
    expect(conversionTargets('onnx')).toEqual(['int8', 'fp16']);
    expect(conversionTargets('torchscript')).toEqual([]);
    expect(defaultConvertDraft('onnx').to).toBe('int8');
    expect(defaultConvertDraft('custom').to).toBe('onnx');
    expect(DEFAULT_TOLERANCES.int8).toEqual([0.1, 0.05]);
  });

  it('leaves the tolerances to the worker unless given', () => {
    const draft = defaultConvertDraft('pytorch-state-dict');
    expect(convertBody(draft)).toEqual({
      ok: true,
      body: { to: 'onnx', opset: 17 }
    });
    expect(
      convertBody({
        ...draft,
        to: 'int8',
        toleranceAbs: '0.2',
        samples: '8',
        dataset: 'alice/shapes:V001',
        split: 'val'
      })
    ).toEqual({
      ok: true,
      body: {
        to: 'int8',
        tolerance: { abs: 0.2 },
        samples: 8,
        dataset: 'alice/shapes:V001',
        split: 'val'
      }
    });
    expect(
      convertBody({ ...draft, toleranceAbs: '1e-4', toleranceRel: '1e-3' })
    ).toEqual({
      ok: true,
      body: { to: 'onnx', opset: 17, tolerance: { abs: 1e-4, rel: 1e-3 } }
    });
  });

  it('names the first wrong field', () => {
    const draft = defaultConvertDraft('pytorch-state-dict');
    expect(convertBody({ ...draft, opset: '3' })).toEqual({
      ok: false,
      error: 'opset: a whole number of at least 7'
    });
    const bad = convertBody({ ...draft, toleranceAbs: 'abc' });
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.error).toMatch(/^tolerance abs/);
    const samples = convertBody({ ...draft, samples: '0' });
    expect(!samples.ok && samples.error).toMatch(/^samples/);
    const ds = convertBody({ ...draft, dataset: '<img src=x>' });
    expect(!ds.ok && ds.error).toMatch(/^dataset/);
  });
});

describe('Evaluate dialog', () => {
  it('maps the model task and requires a dataset', () => {
    expect(defaultEvaluateDraft('image_classification').task).toBe(
      'image_classification'
    );
    expect(defaultEvaluateDraft('object_detection').task).toBe('custom');
    const draft = defaultEvaluateDraft('image_classification');
    expect(evaluateBody(draft).ok).toBe(false);
    expect(evaluateBody({ ...draft, dataset: 'shapes:V001' })).toEqual({
      ok: true,
      body: {
        dataset: 'shapes:V001',
        task: 'image_classification',
        split: 'test',
        batch_size: 32
      }
    });
  });

  it('requires a script for custom tasks', () => {
    const draft = { ...defaultEvaluateDraft(null), dataset: 'alice/x:V002' };
    expect(evaluateBody(draft)).toEqual({
      ok: false,
      error: 'script: required for a custom evaluation'
    });
    expect(evaluateBody({ ...draft, script: 'eval.py', split: '' })).toEqual({
      ok: true,
      body: {
        dataset: 'alice/x:V002',
        task: 'custom',
        batch_size: 32,
        script: 'eval.py'
      }
    });
  });

  it('recognises dataset refs', () => {
    expect(isDatasetRef('shapes')).toBe(true);
    expect(isDatasetRef('alice/shapes:V001')).toBe(true);
    expect(isDatasetRef('alice/shapes:V001;rm')).toBe(false);
  });
});

describe('Register dialog', () => {
  it('checks the name and confines the folder', () => {
    expect(
      registerDraft({ name: 'cnn', path: '/model/', description: ' d ' })
    ).toEqual({
      ok: true,
      body: { name: 'cnn', path: 'model', description: 'd' }
    });
    expect(
      registerDraft({ name: 'CNN', path: 'model', description: '' }).ok
    ).toBe(false);
    expect(
      registerDraft({ name: 'cnn', path: 'a/../../b', description: '' }).ok
    ).toBe(false);
    expect(registerDraft({ name: 'cnn', path: '', description: '' }).ok).toBe(
      false
    );
  });
});
